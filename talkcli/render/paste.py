"""Paste rendered crops back into the full photo with a feathered edge.

When the photo is sharper than the crop (a large photo: more than ~1.05 photo
pixels per crop pixel), the pasted crop alone would be a soft disc in a sharp
photo. The crop then supplies only the low frequencies; the fine detail comes
from the photo itself at full resolution, warped by the crop's own backward
map carried over to photo pixels (on the moving head), or as photographed
(on the still layer), so sharpness is the same inside and outside the feather.
Drawn layers (mouth interior, lids) keep the crop's own content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face.crop import CropGeometry

DETAIL_BELOW_SCALE = 0.95  # crop pixels per photo pixel below which full-resolution detail is added


def even_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) rounded down to even numbers: H.264 yuv420p needs even sides."""
    return shape[0] - shape[0] % 2, shape[1] - shape[1] % 2


@dataclass(frozen=True)
class PasteData:
    """What paste-back needs of one crop frame, beyond its pixels.

    ``rest``: the crop frame is the reference crop itself (the photo is pasted as it is).
    For full-resolution detail on large photos (``PasteBack.detail``): ``map_x``, ``map_y``
    the frame's backward map, ``alpha`` the head layer's coverage (None: all head) and
    ``layers`` where drawn layers lie (None: nowhere), each ``(S, S) float32`` crop arrays;
    all None when no detail is needed.
    """

    rest: bool = False
    map_x: np.ndarray | None = None
    map_y: np.ndarray | None = None
    alpha: np.ndarray | None = None
    layers: np.ndarray | None = None


@dataclass(frozen=True)
class CropFrame:
    """One rendered crop frame, ``(S, S, 3) uint8`` RGB, travelling with its own paste data."""

    image: np.ndarray
    paste: PasteData

    def with_image(self, image: np.ndarray) -> "CropFrame":
        """The same frame with other pixels (e.g. restored by the enhancer), same paste data."""
        return CropFrame(image, self.paste)


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
        # Full-resolution detail for photos sharper than the crop.
        self.detail = self._alpha is not None and geometry.scale < DETAIL_BELOW_SCALE
        if self.detail:
            gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
            mat = geometry.matrix
            self._cx = (mat[0, 0] * gx + mat[0, 1] * gy + mat[0, 2]).astype(np.float32)
            self._cy = (mat[1, 0] * gx + mat[1, 1] * gy + mat[1, 2]).astype(np.float32)
            self._sigma = 0.5 / geometry.scale
            roi = self.photo[y0:y1, x0:x1].astype(np.float32)
            self._photo_detail = roi - cv2.GaussianBlur(roi, (0, 0), self._sigma)

    @property
    def shape(self) -> tuple[int, int]:
        return self.photo.shape[:2]

    def paste(self, crop_frame: np.ndarray, data: PasteData | None = None) -> np.ndarray:
        """The full photo with ``crop_frame`` (``(S, S, 3) uint8``) blended in, ``(H, W, 3) uint8``.

        ``data``: that frame's own ``PasteData`` (from the frame source); None pastes the
        pixels alone, without full-resolution detail.
        """
        import cv2

        out = self.photo.copy()
        if self._alpha is None or (data is not None and data.rest):
            return out
        x0, y0, x1, y1 = self.box
        warped = cv2.warpAffine(crop_frame, self._m, self._size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        roi = out[y0:y1, x0:x1]
        if self.detail and data is not None and data.map_x is not None:
            warped = self._with_detail(warped, data)
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, roi, self._alpha, 1.0 - self._alpha)
        return out

    def paste_frame(self, frame: CropFrame) -> np.ndarray:
        """``paste`` for a ``CropFrame``: its pixels with its own paste data."""
        return self.paste(frame.image, frame.paste)

    def _with_detail(self, warped: np.ndarray, data: PasteData) -> np.ndarray:
        import cv2

        x0, y0, x1, y1 = self.box
        rm = lambda a: cv2.remap(a, self._cx, self._cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # noqa: E731
        sx, sy = rm(data.map_x), rm(data.map_y)  # crop coordinates sampled by each photo pixel
        inv = self.geometry.inverse
        px = (inv[0, 0] * sx + inv[0, 1] * sy + inv[0, 2]).astype(np.float32)
        py = (inv[1, 0] * sx + inv[1, 1] * sy + inv[1, 2]).astype(np.float32)
        moved = cv2.remap(self.photo, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        detail_moved = moved - cv2.GaussianBlur(moved, (0, 0), self._sigma)
        head = rm(data.alpha) if data.alpha is not None else np.ones(self._cx.shape, np.float32)
        keep = 1.0 - rm(data.layers) if data.layers is not None else 1.0
        detail = (head * keep)[..., None] * detail_moved + ((1.0 - head) * keep)[..., None] * self._photo_detail
        return np.clip(warped + detail + 0.5, 0, 255).astype(np.uint8)
