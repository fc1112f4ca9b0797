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
    """``(T, 3, 2)``: for each triangle, M with ``[x, y, 1] @ M`` = source point of target point (x, y)."""
    t = target[triangles]  # (T, 3, 2)
    s = source[triangles]
    tm = np.concatenate([t, np.ones(t.shape[:2] + (1,))], axis=2)  # (T, 3, 3)
    # Degenerate (zero-area) triangles get a tiny regularisation; they cover no pixels anyway.
    det = np.linalg.det(tm)
    bad = np.abs(det) < 1e-9
    if bad.any():
        tm = tm.copy()
        tm[bad] += np.eye(3) * 1e-6
    return np.linalg.solve(tm, s)


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
        self._gx, self._gy = np.meshgrid(coords, coords)
        self._index = np.empty((self.small, self.small), dtype=np.int32)

    def backward_map(self, target: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)``, each ``(size, size) float32``, for ``cv2.remap`` of the reference crop."""
        import cv2

        aff = triangle_affines(target, source, self.triangles)
        index = self._index
        index.fill(-1)
        shift = 4  # sub-pixel precision of the rasteriser: 1/16 px
        f = self._f
        pts = np.round(((target * f) + 0.5 * (f - 1) + 0.0) * (1 << shift)).astype(np.int32)
        # Rasterise in draw order: later triangles overwrite earlier ones.
        for i, tri in enumerate(self.triangles):
            cv2.fillConvexPoly(index, pts[tri], i, lineType=cv2.LINE_8, shift=shift)
        covered = index >= 0
        idx = np.where(covered, index, 0)
        m = aff[idx]  # (h, w, 3, 2)
        gx, gy = self._gx, self._gy
        mx = gx * m[..., 0, 0] + gy * m[..., 1, 0] + m[..., 2, 0]
        my = gx * m[..., 0, 1] + gy * m[..., 1, 1] + m[..., 2, 1]
        mx = np.where(covered, mx, gx).astype(np.float32)
        my = np.where(covered, my, gy).astype(np.float32)
        if self.small != self.size:
            mx = cv2.resize(mx, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            my = cv2.resize(my, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return mx, my


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` at the map (bilinear, edges replicated)."""
    import cv2

    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
