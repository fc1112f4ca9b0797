"""Dense mesh warp: one backward map per frame, one remap.

For every output pixel the map says where in the reference crop to sample.
It is piecewise affine over the rig's triangles, built by rasterising the
target triangles' indices at ``map_scale`` of the crop resolution and
upsampling the (smooth) map; the image itself is resampled once, at full
resolution.
"""

from __future__ import annotations

import numpy as np


def triangle_affines(target: np.ndarray, source: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T, 3, 2)``: for each triangle, M with ``[x, y, 1] @ M`` = source point of target point (x, y).

    Closed form over edge vectors (a batched 2x2 inverse); degenerate target
    triangles cover no pixels, so their (huge or zero) affines are never used.
    """
    t = target[triangles]  # (T, 3, 2)
    s = source[triangles]
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    f1, f2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    # inv([e1 e2]) as columns: [[e2y, -e2x], [-e1y, e1x]] / det
    i00, i01 = e2[:, 1] / det, -e2[:, 0] / det
    i10, i11 = -e1[:, 1] / det, e1[:, 0] / det
    # L = [f1 f2] @ inv([e1 e2]) maps target offsets to source offsets.
    l00 = f1[:, 0] * i00 + f2[:, 0] * i10
    l01 = f1[:, 0] * i01 + f2[:, 0] * i11
    l10 = f1[:, 1] * i00 + f2[:, 1] * i10
    l11 = f1[:, 1] * i01 + f2[:, 1] * i11
    m = np.empty((len(triangles), 3, 2))
    m[:, 0, 0], m[:, 1, 0] = l00, l01
    m[:, 0, 1], m[:, 1, 1] = l10, l11
    m[:, 2, 0] = s[:, 0, 0] - (l00 * t[:, 0, 0] + l01 * t[:, 0, 1])
    m[:, 2, 1] = s[:, 0, 1] - (l10 * t[:, 0, 0] + l11 * t[:, 0, 1])
    return m


class MeshWarper:
    """Builds backward maps for a fixed triangle topology over a ``size`` x ``size`` crop."""

    def __init__(self, size: int, triangles: np.ndarray, map_scale: float = 0.5) -> None:
        self.size = size
        self.triangles = np.ascontiguousarray(triangles, dtype=np.int32)
        self.small = max(8, int(round(size * map_scale)))
        f = self.small / size
        self._f = f
        # Full-resolution coordinates of the low-resolution pixel centres.
        coords = (np.arange(self.small, dtype=np.float64) + 0.5) / f - 0.5
        self._gx, self._gy = (g.astype(np.float32) for g in np.meshgrid(coords, coords))
        self._index = np.empty((self.small, self.small), dtype=np.int32)
        g = np.arange(size, dtype=np.float32)
        self.identity = tuple(np.ascontiguousarray(a) for a in np.meshgrid(g, g))  # (map_x, map_y) that moves nothing

    def backward_map(self, target: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)``, each ``(size, size) float32``, for ``cv2.remap`` of the reference crop."""
        import cv2

        aff = triangle_affines(target, source, self.triangles)
        n = len(self.triangles)
        # Six coefficients per triangle, plus an identity "triangle" n for pixels no triangle covers.
        coef = np.empty((6, n + 1), dtype=np.float32)
        coef[:, :n] = aff.reshape(n, 6).T  # rows: m00 m01 m10 m11 m20 m21
        coef[:, n] = (1, 0, 0, 1, 0, 0)
        index = self._index
        index.fill(n)
        shift = 4  # sub-pixel precision of the rasteriser: 1/16 px
        f = self._f
        pts = np.round((target * f + 0.5 * (f - 1)) * (1 << shift)).astype(np.int32)
        # Rasterise in draw order: later triangles overwrite earlier ones.
        tris = pts[self.triangles]
        fill = cv2.fillConvexPoly
        for i in range(n):
            fill(index, tris[i], i, cv2.LINE_8, shift)
        gx, gy = self._gx, self._gy
        c = [np.take(coef[k], index) for k in range(6)]
        mx = gx * c[0] + gy * c[2] + c[4]
        my = gx * c[1] + gy * c[3] + c[5]
        if self.small != self.size:
            mx = cv2.resize(mx, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            my = cv2.resize(my, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return mx, my


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` at the map (bilinear, edges replicated)."""
    import cv2

    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
