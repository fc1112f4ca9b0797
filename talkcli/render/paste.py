"""Paste rendered crops back into the full photo with a feathered edge."""

from __future__ import annotations

import numpy as np

from talkcli.face.crop import CropGeometry


def even_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) rounded down to even numbers: H.264 yuv420p needs even sides."""
    return shape[0] - shape[0] % 2, shape[1] - shape[1] % 2


class PasteBack:
    """Blends each ``(size, size, 3)`` crop frame into a copy of the photo.

    The feather mask is 1 over the face and its anchor rings and falls to 0
    well inside the crop border, where the warp is the identity anyway; the
    mask and the crop's footprint in the photo are computed once.
    """

    def __init__(self, photo: np.ndarray, geometry: CropGeometry, feather_inner: float = 0.62, feather_outer: float = 0.92) -> None:
        import cv2

        h, w = even_size(photo.shape)
        self.photo = np.ascontiguousarray(photo[:h, :w])
        self.geometry = geometry
        s = geometry.size
        corners = geometry.to_photo(np.array([[0, 0], [s, 0], [0, s], [s, s]], dtype=np.float64))
        x0 = int(max(0, np.floor(corners[:, 0].min())))
        y0 = int(max(0, np.floor(corners[:, 1].min())))
        x1 = int(min(w, np.ceil(corners[:, 0].max()) + 1))
        y1 = int(min(h, np.ceil(corners[:, 1].max()) + 1))
        self.box = (x0, y0, x1, y1)
        # Crop -> photo-ROI affine.
        m = geometry.inverse.copy()
        m[:, 2] -= (x0, y0)
        self._m = m
        # Radial feather in crop space: 1 inside feather_inner * half-side, 0 beyond feather_outer.
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        r = np.hypot(xx - (s - 1) / 2, yy - (s - 1) / 2) / (s / 2)
        t = np.clip((feather_outer - r) / (feather_outer - feather_inner), 0, 1)
        mask = (t * t * (3 - 2 * t)).astype(np.float32)
        self._size = (x1 - x0, y1 - y0)
        if x1 > x0 and y1 > y0:
            alpha = cv2.warpAffine(mask, m, self._size, flags=cv2.INTER_LINEAR, borderValue=0)
            self._alpha = np.ascontiguousarray(alpha)
        else:
            self._alpha = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.photo.shape[:2]

    def paste(self, crop_frame: np.ndarray) -> np.ndarray:
        """The full photo with ``crop_frame`` blended in, ``(H, W, 3) uint8``."""
        import cv2

        out = self.photo.copy()
        if self._alpha is None:
            return out
        x0, y0, x1, y1 = self.box
        warped = cv2.warpAffine(crop_frame, self._m, self._size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        roi = out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, roi, self._alpha, 1.0 - self._alpha)
        return out
