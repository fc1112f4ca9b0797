"""Per-frame loops that numpy cannot vectorise, compiled with numba.

Compiled on first use and cached on disk (numba's ``cache=True``: next to this
file, or under the user's cache folder when the package folder is read-only),
so only the first render after an install pays the compile (2-3 s). Where no
cache folder is writable they are compiled in every process instead.

Whole-array expressions (``a[:] = 0``, ``b - c``) are written as loops: numba
compiles them several times slower, for no gain at run time.
"""

from __future__ import annotations

import math

import numba
import numpy as np


def _jit(fn):
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba found no writable cache folder
        return numba.njit(nogil=True)(fn)


@_jit
def rasterise_affine_map(pts: np.ndarray, tris: np.ndarray, coef: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                         map_x: np.ndarray, map_y: np.ndarray) -> None:  # pragma: no cover - compiled
    """Fill ``map_x``/``map_y`` with each triangle's affine, in triangle order.

    ``pts``: ``(V, 2)`` vertex positions in map pixels (pixel ``j`` is centred at ``j``);
    ``tris``: ``(T, 3)``; ``coef``: ``(T, 6)`` affine per triangle (``m00 m01 m10 m11 m20 m21``,
    ``[X, Y, 1] @ M`` in full-resolution coordinates); ``xs``, ``ys``: the full-resolution
    coordinates of the map's pixel centres along x and along y. A map pixel belongs to
    a triangle when its centre lies inside it or on its edge; a later triangle overwrites
    an earlier one. Triangles of zero area cover nothing; pixels no triangle covers keep
    what the maps held.
    """
    h, w = map_x.shape
    for t in range(tris.shape[0]):
        a, b, c = tris[t, 0], tris[t, 1], tris[t, 2]
        ax, ay = pts[a, 0], pts[a, 1]
        bx, by = pts[b, 0], pts[b, 1]
        cx, cy = pts[c, 0], pts[c, 1]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-9:
            continue
        s = 1.0 if area > 0 else -1.0
        # Edge functions are exact up to rounding: a pixel centre on an edge shared by two
        # triangles must not fall out of both.
        tol = -1e-7 * abs(area)
        x0 = max(0, int(math.ceil(min(ax, bx, cx))))
        x1 = min(w - 1, int(math.floor(max(ax, bx, cx))))
        y0 = max(0, int(math.ceil(min(ay, by, cy))))
        y1 = min(h - 1, int(math.floor(max(ay, by, cy))))
        m00, m01, m10, m11, m20, m21 = coef[t, 0], coef[t, 1], coef[t, 2], coef[t, 3], coef[t, 4], coef[t, 5]
        for i in range(y0, y1 + 1):
            yy = ys[i]
            for j in range(x0, x1 + 1):
                e0 = s * ((bx - ax) * (i - ay) - (by - ay) * (j - ax))
                e1 = s * ((cx - bx) * (i - by) - (cy - by) * (j - bx))
                e2 = s * ((ax - cx) * (i - cy) - (ay - cy) * (j - cx))
                if e0 >= tol and e1 >= tol and e2 >= tol:
                    xx = xs[j]
                    map_x[i, j] = xx * m00 + yy * m10 + m20
                    map_y[i, j] = xx * m01 + yy * m11 + m21


@_jit
def _count_folded(p: np.ndarray, tris: np.ndarray, sign: np.ndarray, tolerance: float,
                  out: np.ndarray) -> int:  # pragma: no cover - compiled
    """Writes the indices of triangles whose signed area (times ``sign``) is below
    ``-tolerance`` to ``out``; returns how many."""
    n = 0
    for k in range(tris.shape[0]):
        a, b, c = tris[k, 0], tris[k, 1], tris[k, 2]
        area = (p[b, 0] - p[a, 0]) * (p[c, 1] - p[a, 1]) - (p[b, 1] - p[a, 1]) * (p[c, 0] - p[a, 0])
        if area * sign[k] < -tolerance:
            out[n] = k
            n += 1
    return n


@_jit
def relax_folds(source: np.ndarray, target: np.ndarray, tris: np.ndarray, sign: np.ndarray,
                movable: np.ndarray, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                tolerance: float, iterations: int) -> np.ndarray:  # pragma: no cover - compiled
    """``FaceRig._relax``'s sweeps (see there); returns the target with the fewest folds seen."""
    nv = source.shape[0]
    bad = np.empty(tris.shape[0], np.int64)
    n_bad = _count_folded(target, tris, sign, tolerance, bad)
    best = np.empty((nv, 2))
    for v in range(nv):
        best[v, 0], best[v, 1] = target[v, 0], target[v, 1]
    if n_bad == 0:
        return best
    best_n = n_bad
    disp = np.empty((nv, 2))
    for v in range(nv):
        disp[v, 0] = target[v, 0] - source[v, 0]
        disp[v, 1] = target[v, 1] - source[v, 1]
    acc = np.zeros((nv, 2))
    cnt = np.zeros(nv)
    hit = np.zeros(nv, np.bool_)
    smooth = np.zeros((nv, 2))
    cur = np.empty((nv, 2))
    for _ in range(iterations):
        for v in range(nv):
            acc[v, 0] = acc[v, 1] = cnt[v] = 0.0
        for r in range(n_bad):
            k = bad[r]
            i0, i1, i2 = tris[k, 0], tris[k, 1], tris[k, 2]
            # Photo corners p and current corners q, about their centroids.
            pm0 = (source[i0, 0] + source[i1, 0] + source[i2, 0]) / 3.0
            pm1 = (source[i0, 1] + source[i1, 1] + source[i2, 1]) / 3.0
            qm0 = pm0 + (disp[i0, 0] + disp[i1, 0] + disp[i2, 0]) / 3.0
            qm1 = pm1 + (disp[i0, 1] + disp[i1, 1] + disp[i2, 1]) / 3.0
            a = 0.0
            b = 0.0
            norm = 0.0
            for j in range(3):
                v = tris[k, j]
                px = source[v, 0] - pm0
                py = source[v, 1] - pm1
                qx = source[v, 0] + disp[v, 0] - qm0
                qy = source[v, 1] + disp[v, 1] - qm1
                a += px * qx + py * qy
                b += px * qy - py * qx
                norm += px * px + py * py
            norm = max(norm, 1e-12)
            c = a / norm
            s = b / norm
            for j in range(3):
                v = tris[k, j]
                px = source[v, 0] - pm0
                py = source[v, 1] - pm1
                acc[v, 0] += qm0 + (c * px - s * py) - source[v, 0]
                acc[v, 1] += qm1 + (s * px + c * py) - source[v, 1]
                cnt[v] += 1.0
        for v in range(nv):
            hit[v] = cnt[v] > 0 and movable[v]
            if hit[v]:
                disp[v, 0] = 0.5 * disp[v, 0] + 0.5 * acc[v, 0] / cnt[v]
                disp[v, 1] = 0.5 * disp[v, 1] + 0.5 * acc[v, 1] / cnt[v]
        # One ring around them is smoothed toward its neighbours' (updated) displacement.
        for v in range(nv):
            smooth[v, 0] = smooth[v, 1] = 0.0
            ring = False
            sx = sy = 0.0
            for k in range(indptr[v], indptr[v + 1]):
                u = indices[k]
                w = weights[k]
                sx += w * disp[u, 0]
                sy += w * disp[u, 1]
                if hit[u] and w != 0.0:
                    ring = True
            if ring and movable[v] and not hit[v]:
                smooth[v, 0] = sx
                smooth[v, 1] = sy
                cnt[v] = -1.0  # marks the ring for the update below
        for v in range(nv):
            if cnt[v] < 0:
                disp[v, 0] = 0.5 * disp[v, 0] + 0.5 * smooth[v, 0]
                disp[v, 1] = 0.5 * disp[v, 1] + 0.5 * smooth[v, 1]
        for v in range(nv):
            cur[v, 0] = source[v, 0] + disp[v, 0]
            cur[v, 1] = source[v, 1] + disp[v, 1]
        n_bad = _count_folded(cur, tris, sign, tolerance, bad)
        if n_bad < best_n:
            for v in range(nv):
                best[v, 0], best[v, 1] = cur[v, 0], cur[v, 1]
            best_n = n_bad
        if n_bad == 0:
            break
    return best



@_jit
def composite_head(frame: np.ndarray, alpha: np.ndarray, crop: np.ndarray, background: np.ndarray,
                   reveal: int) -> None:  # pragma: no cover - compiled
    """The head layer ``frame`` over the still layer, in place: ``alpha`` (uint8, 255 = head)
    is the head's coverage. The still layer is ``crop`` faded toward ``background`` by
    ``reveal``/256; it is computed only where it shows. Where alpha is 0 the result is the
    still layer exactly (the photo itself when ``reveal`` is 0)."""
    h, w = alpha.shape
    keep = 256 - reveal
    for i in range(h):
        for j in range(w):
            a = np.int32(alpha[i, j])
            if a == 255:
                continue
            for c in range(3):
                still = (np.int32(crop[i, j, c]) * keep + np.int32(background[i, j, c]) * reveal + 128) >> 8
                if a == 0:
                    frame[i, j, c] = still
                else:
                    frame[i, j, c] = (np.int32(frame[i, j, c]) * a + still * (255 - a) + 127) // 255


@_jit
def changed_box(a: np.ndarray, b: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """``(x0, y0, x1, y1)``: the smallest box (end exclusive) holding every pixel where the
    ``(H, W, C)`` images differ; ``(0, 0, 0, 0)`` when they are equal."""
    h, w, c = a.shape
    x0, y0, x1, y1 = w, h, 0, 0
    for i in range(h):
        for j in range(w):
            for k in range(c):
                if a[i, j, k] != b[i, j, k]:
                    if j < x0:
                        x0 = j
                    if j >= x1:
                        x1 = j + 1
                    if i < y0:
                        y0 = i
                    y1 = i + 1
                    break
    if x1 == 0:
        return 0, 0, 0, 0
    return x0, y0, x1, y1


@_jit
def _blend_weights(row: np.ndarray, fields: np.ndarray, i: int, lo: int, hi: int, x0: int, x1: int, bx0: int,
                   wy: np.float32, inv_ramp: np.float32, detail: bool, wa: np.ndarray, wm: np.ndarray,
                   ws: np.ndarray) -> None:  # pragma: no cover - compiled
    """``blend_region``'s per-pixel weights of one row's pixels ``lo..hi`` (photo x), each
    written three times (once per channel) so that the channel loop runs over flat rows:
    ``wa`` the paste's (feather times the fade at the region's edge ``x0..x1``), ``wm`` the
    moved detail's, ``ws`` the still detail's (from row ``i`` of ``fields``)."""
    one, byte = np.float32(1.0), np.float32(1.0 / 255.0)
    for x in range(lo, hi):
        a = row[x - bx0] * min(wy, np.float32(min(x - x0, x1 - 1 - x) + 1) * inv_ramp)
        k = 3 * (x - lo)
        wa[k] = wa[k + 1] = wa[k + 2] = a
        if detail:
            keep = one - np.float32(fields[i, x - x0, 1]) * byte
            mw = keep * np.float32(fields[i, x - x0, 0]) * byte
            wm[k] = wm[k + 1] = wm[k + 2] = mw
            ws[k] = ws[k + 1] = ws[k + 2] = keep - mw


@_jit
def blend_region(out: np.ndarray, photo: np.ndarray, warped: np.ndarray, feather: np.ndarray, spans: np.ndarray,
                 box: tuple, region: tuple, ramp: float, detail: bool, moved: np.ndarray, fields: np.ndarray,
                 photo_detail: np.ndarray) -> None:  # pragma: no cover - compiled
    """Blend a pasted crop into ``out`` (a copy of ``photo``, ``(H, W, 3) uint8``) inside
    ``region`` (photo pixels ``x0, y0, x1, y1``, end exclusive).

    ``warped``: the crop frame resampled onto the region, ``(rh, rw, 3) uint8``; ``feather``:
    the paste mask over ``box`` (the crop's footprint, ``x0, y0, x1, y1``), ``(bh, bw)
    float32``, faded to nothing over ``ramp`` pixels inside the region's edge (where the crop
    is unchanged) so that the photo around the region meets it without a step; ``spans``
    ``(bh, 2)``: per feather row, the columns ``lo, hi`` (end exclusive) outside which it is 0.
    With ``detail``, the photo's fine detail is added first: ``moved`` ``(rh, rw, 3) uint8``
    (the detail moved by the frame's warp, 128 = none) where the head covers and
    ``photo_detail`` (``(bh, bw, 3) uint8``, as photographed, 128 = none) elsewhere, weighted
    by ``fields`` ``(rh, rw, 4) uint8`` (255 = all): head coverage, and drawn layers (which
    keep the crop's own content); the last two channels unused. Rows are blended flat (channels interleaved), which the
    compiler vectorises.
    """
    bx0, by0 = box[0], box[1]
    rx0, ry0, rx1, ry1 = region
    inv_ramp = np.float32(1.0 / ramp)
    one, half, mid, zero, top = np.float32(1.0), np.float32(0.5), np.float32(128.0), np.float32(0.0), np.float32(255.0)
    n = 3 * (rx1 - rx0)
    wa, wm, ws = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
    for y in range(ry0, ry1):
        i = y - ry0
        lo, hi = max(rx0, bx0 + spans[y - by0, 0]), min(rx1, bx0 + spans[y - by0, 1])
        if hi <= lo:
            continue
        wy = min(one, np.float32(min(i, ry1 - 1 - y) + 1) * inv_ramp)
        _blend_weights(feather[y - by0], fields, i, lo, hi, rx0, rx1, bx0, wy, inv_ramp, detail, wa, wm, ws)
        p, o = photo[y].ravel()[3 * lo:3 * hi], out[y].ravel()[3 * lo:3 * hi]
        w = warped[i].ravel()[3 * (lo - rx0):3 * (hi - rx0)]
        m, d = w, w
        if detail:
            m = moved[i].ravel()[3 * (lo - rx0):3 * (hi - rx0)]
            d = photo_detail[y - by0].ravel()[3 * (lo - bx0):3 * (hi - bx0)]
        for k in range(3 * (hi - lo)):
            v = np.float32(w[k])
            if detail:
                v += wm[k] * (np.float32(m[k]) - mid) + ws[k] * (np.float32(d[k]) - mid)
                v = np.float32(int(min(max(v, zero), top) + half))
            a = wa[k]
            o[k] = np.uint8(int(a * v + (one - a) * np.float32(p[k]) + half))


def feather_spans(feather: np.ndarray) -> np.ndarray:
    """Per row of ``feather`` ``(h, w)``: the columns ``lo, hi`` (end exclusive) outside which it
    is 0, ``(h, 2) int64`` (``0, 0`` for a row of zeros). ``blend_region`` works only between them."""
    nz = feather > 0
    rows = nz.any(axis=1)
    lo = np.where(rows, nz.argmax(axis=1), 0)
    hi = np.where(rows, nz.shape[1] - nz[:, ::-1].argmax(axis=1), 0)
    return np.ascontiguousarray(np.stack([lo, hi], axis=1).astype(np.int64))


def warm_up() -> None:
    """Compiles (or loads from the disk cache) every kernel with the argument types a render uses.

    Only the types matter: the fold tolerance is a float and the sweep count an int, as
    ``render.rig`` passes them (this module imports nothing of the rig's, which calls into it).
    """
    pts = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    tris = np.array([[0, 1, 2]], np.int32)
    maps = np.zeros((2, 4, 4), np.float32)
    grid = np.arange(4, dtype=np.float64)
    rasterise_affine_map(pts, tris, np.zeros((1, 6)), grid, grid, maps[0], maps[1])
    relax_folds(pts, pts, tris, np.ones(1), np.ones(3, np.bool_), np.zeros(4, np.int32), np.zeros(0, np.int32),
                np.zeros(0), 0.1, 1)
    image = np.zeros((4, 4, 4), np.uint8)
    changed_box(image, image)
    f32 = np.zeros((4, 4), np.float32)
    u3 = np.zeros((4, 4, 3), np.uint8)
    blend_region(image[..., :3].copy(), image[..., :3].copy(), u3, f32, feather_spans(f32), (0, 0, 4, 4), (0, 0, 4, 4),
                 4.0, True, u3, np.zeros((4, 4, 4), np.uint8), u3)
    composite_head(np.zeros((4, 4, 3), np.uint8), image[..., 3], image[..., :3].copy(), image[..., :3].copy(), 0)
