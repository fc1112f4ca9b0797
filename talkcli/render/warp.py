"""Dense mesh warp: one backward map per frame, one remap.

For every output pixel the map says where in the reference crop to sample.
It is piecewise affine over the rig's triangles, built by rasterising the
target triangles' affines at ``map_scale`` of the crop resolution (a compiled
loop, ``render.kernels``: one OpenCV call per triangle cost more in Python
than the pixels did) and upsampling the (smooth) map; the image itself is
resampled once, at full resolution.
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
        self._coords = coords
        self._gx, self._gy = (g.astype(np.float32) for g in np.meshgrid(coords, coords))
        g = np.arange(size, dtype=np.float32)
        self.identity = tuple(np.ascontiguousarray(a) for a in np.meshgrid(g, g))  # (map_x, map_y) that moves nothing

    def backward_map(self, target: np.ndarray, source: np.ndarray,
                     fine: list[tuple[int, int, int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)``, each ``(size, size) float32``, for ``cv2.remap`` of the reference crop.

        ``fine``: boxes ``(x0, y0, x1, y1)`` (full-resolution pixels, end exclusive) where the
        map is rasterised again at full resolution. Where the mesh has a seam (lips pressed
        shut, closed lids), the upsampled map steps in blocks of the coarse pixels and its
        interpolation samples across the photo's opening; at full resolution the seam is sharp.
        Inside a triangle the two agree (an affine map upsamples exactly), so a box has no edge.
        """
        import cv2

        from talkcli.render.kernels import rasterise_affine_map

        aff = triangle_affines(target, source, self.triangles).reshape(len(self.triangles), 6)
        f = self._f
        target = np.asarray(target, np.float64)
        # Pixels no triangle covers keep the identity.
        mx, my = self._gx.copy(), self._gy.copy()
        rasterise_affine_map(target * f + 0.5 * (f - 1), self.triangles, aff, self._coords, self._coords, mx, my)
        if self.small == self.size:
            return mx, my
        mx = cv2.resize(mx, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(my, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        for x0, y0, x1, y1 in fine or ():
            x0, y0 = max(0, int(x0)), max(0, int(y0))
            x1, y1 = min(self.size, int(x1)), min(self.size, int(y1))
            if x1 <= x0 or y1 <= y0:
                continue
            sub_x, sub_y = mx[y0:y1, x0:x1].copy(), my[y0:y1, x0:x1].copy()
            rasterise_affine_map(target - (x0, y0), self.triangles, aff, np.arange(x0, x1, dtype=np.float64),
                                 np.arange(y0, y1, dtype=np.float64), sub_x, sub_y)
            mx[y0:y1, x0:x1], my[y0:y1, x0:x1] = sub_x, sub_y
        return mx, my


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` at the map (bilinear, edges replicated)."""
    import cv2

    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
