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
RAMP_PX = 6  # photo pixels over which a pasted region fades into the untouched photo at its edge
_NONE3 = np.zeros((0, 0, 3), np.uint8)  # "no such layer" for the compiled blend
_NONE2 = np.zeros((0, 0, 4), np.uint8)


def even_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) rounded down to even numbers: H.264 yuv420p needs even sides."""
    return shape[0] - shape[0] % 2, shape[1] - shape[1] % 2


@dataclass(frozen=True)
class PasteData:
    """What paste-back needs of one crop frame, beyond its pixels.

    ``rest``: the crop frame is the reference crop itself (the photo is pasted as it is).
    ``changed``: the box ``(x0, y0, x1, y1)`` (end exclusive) outside which the frame equals
    the reference crop: paste-back computes only there.
    For full-resolution detail on large photos (``PasteBack.detail``): ``map_x``, ``map_y``
    the frame's backward map, ``alpha`` the head layer's coverage (None: all head) and
    ``layers`` where drawn layers lie (None: nowhere), each ``(S, S) float32`` crop arrays;
    all None when no detail is needed.
    """

    rest: bool = False
    changed: tuple[int, int, int, int] | None = None  # crop pixels that differ from the reference crop; None: any
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
        """The same frame with other pixels (e.g. restored by the enhancer): same paste data, its
        changed box widened to where the new pixels differ from these."""
        import dataclasses

        from talkcli.render.kernels import changed_box

        paste = self.paste
        if paste.changed is not None:
            ax0, ay0, ax1, ay1 = paste.changed
            bx0, by0, bx1, by1 = changed_box(np.ascontiguousarray(image), np.ascontiguousarray(self.image))
            if bx1 > bx0:
                box = (min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1)) if ax1 > ax0 else (bx0, by0, bx1, by1)
                paste = dataclasses.replace(paste, changed=box, rest=False)
        elif paste.rest and not np.array_equal(image, self.image):
            paste = dataclasses.replace(paste, rest=False)
        return CropFrame(image, paste)


def _u8(a: np.ndarray) -> np.ndarray:
    """A 0..1 float map as 0..255 bytes, rounded."""
    import cv2

    return cv2.convertScaleAbs(a, alpha=255.0, beta=0.0)


class PasteBack:
    """Blends each ``(size, size, 3)`` crop frame into a copy of the photo.

    The feather mask is 1 over the face and its anchor rings and falls to 0
    well inside the crop border, where the warp is the identity anyway; the
    mask and the crop's footprint in the photo are computed once.
    """

    def __init__(self, photo: np.ndarray, geometry: CropGeometry, feather_inner: float = 0.62, feather_outer: float = 0.92) -> None:
        import cv2

        from talkcli.render.kernels import feather_spans

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
        # Crop -> photo-ROI affine, for the feather mask.
        m = geometry.inverse.copy()
        m[:, 2] -= (x0, y0)
        # Radial feather in crop space: 1 inside feather_inner * half-side, 0 beyond feather_outer.
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        r = np.hypot(xx - (s - 1) / 2, yy - (s - 1) / 2) / (s / 2)
        t = np.clip((feather_outer - r) / (feather_outer - feather_inner), 0, 1)
        mask = (t * t * (3 - 2 * t)).astype(np.float32)
        if x1 > x0 and y1 > y0:
            alpha = cv2.warpAffine(mask, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
            self._alpha = np.ascontiguousarray(alpha)
            self._spans = feather_spans(self._alpha)
        else:
            self._alpha = None
        # Full-resolution detail for photos sharper than the crop.
        self.detail = self._alpha is not None and geometry.scale < DETAIL_BELOW_SCALE
        self._photo_detail = None
        if self.detail:  # the photo's fine detail over the footprint: photo minus its blur at the crop's scale
            roi = self.photo[y0:y1, x0:x1].astype(np.float32)
            detail = np.rint(roi - cv2.GaussianBlur(roi, (0, 0), 0.5 / geometry.scale)) + 128
            # Whole grey levels offset by 128 in bytes (detail beyond +-127 grey levels is clipped,
            # which real photos hardly have): OpenCV resamples bytes twice as fast as int16.
            self._photo_detail = np.ascontiguousarray(np.clip(detail, 0, 255).astype(np.uint8))

    @property
    def shape(self) -> tuple[int, int]:
        return self.photo.shape[:2]

    def paste(self, crop_frame: np.ndarray, data: PasteData | None = None) -> np.ndarray:
        """The full photo with ``crop_frame`` (``(S, S, 3) uint8``) blended in, ``(H, W, 3) uint8``.

        ``data``: that frame's own ``PasteData`` (from the frame source); None pastes the
        pixels alone, over the whole footprint, without full-resolution detail. Only the
        photo pixels over the crop's changed box (``PasteData.changed``) are computed: the
        crop (and, for detail, its warp fields) resampled by OpenCV, blended by one compiled
        loop (``render.kernels.blend_region``); the rest is the photo, copied.
        """
        import cv2

        from talkcli.render.kernels import blend_region

        out = self.photo.copy()
        if self._alpha is None or (data is not None and data.rest):
            return out
        region = self._region(data.changed if data is not None else None)
        if region is None:
            return out
        rx0, ry0, rx1, ry1 = region
        size = (rx1 - rx0, ry1 - ry0)
        m = self.geometry.inverse.copy()  # crop -> region
        m[:, 2] -= (rx0, ry0)
        linear = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warped = cv2.warpAffine(crop_frame, m, size, **linear)
        detail = self.detail and data is not None and data.map_x is not None
        moved, fields = _NONE3, _NONE2
        if detail:
            source, fields = self._fields(data)
            where = cv2.warpAffine(source, m, size, **linear)  # detail-layer pixel each photo pixel shows
            fields = cv2.warpAffine(fields, m, size, **linear)
            moved = cv2.remap(self._photo_detail, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        blend_region(out, self.photo, warped, self._alpha, self._spans, self.box, region, float(RAMP_PX), detail, moved, fields,
                     self._photo_detail if detail else _NONE3)  # fmt: skip
        return out

    def _fields(self, data: PasteData) -> tuple[np.ndarray, np.ndarray]:
        """Per crop pixel: where its content lies in the photo's detail layer (``(S, S, 2)
        float32`` x, y, for ``cv2.remap``), and its head coverage and drawn layers (``(S, S, 4)
        uint8``, 255 = all; the last two channels unused)."""
        import cv2

        to_detail = self.geometry.inverse.copy()  # crop -> the detail layer's pixels
        to_detail[:, 2] -= (self.box[0], self.box[1])
        where = cv2.transform(cv2.merge([data.map_x, data.map_y]), to_detail.astype(np.float32))
        size = data.map_x.shape
        head = _u8(data.alpha) if data.alpha is not None else np.full(size, 255, np.uint8)
        layers = _u8(data.layers) if data.layers is not None else np.zeros(size, np.uint8)
        unused = np.zeros(size, np.uint8)  # OpenCV resamples four channels of bytes faster than two
        return where, cv2.merge([head, layers, unused, unused])

    def paste_frame(self, frame: CropFrame) -> np.ndarray:
        """``paste`` for a ``CropFrame``: its pixels with its own paste data."""
        return self.paste(frame.image, frame.paste)

    def _region(self, changed: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        """Photo pixels to compute for a crop whose changed box is ``changed`` (crop pixels; None:
        all of it): the box's footprint widened by the fade, within the crop's footprint."""
        bx0, by0, bx1, by1 = self.box
        if changed is None:
            return self.box
        cx0, cy0, cx1, cy1 = changed
        if cx1 <= cx0 or cy1 <= cy0:
            return None
        corners = self.geometry.to_photo(np.array([[cx0 - 1, cy0 - 1], [cx1, cy0 - 1], [cx0 - 1, cy1], [cx1, cy1]], np.float64))
        pad = RAMP_PX + 2
        x0 = max(bx0, int(np.floor(corners[:, 0].min())) - pad)
        y0 = max(by0, int(np.floor(corners[:, 1].min())) - pad)
        x1 = min(bx1, int(np.ceil(corners[:, 0].max())) + pad + 1)
        y1 = min(by1, int(np.ceil(corners[:, 1].max())) + pad + 1)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
