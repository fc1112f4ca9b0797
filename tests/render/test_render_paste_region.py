"""Paste-back computes only where the crop changed: same face as the previous full-footprint
paste (kept here as the reference), the photo itself elsewhere, and no step where they meet."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkcli.face import topology as topo
from talkcli.face.crop import face_crop
from talkcli.render.frames import FrameRenderer
from talkcli.render.paste import PasteBack, PasteData

JAW = np.array([0.6, 0, 0, 0], np.float32)
HEAD = np.array([1.5, 1.0, 0.5, 0.005, 0.0], np.float32)


def reference_paste(paste: PasteBack, crop: np.ndarray, data: PasteData) -> np.ndarray:
    """The previous paste-back: the whole footprint, OpenCV and numpy at full resolution."""
    out = paste.photo.copy()
    if data.rest:
        return out
    geometry = paste.geometry
    x0, y0, x1, y1 = paste.box
    m = geometry.inverse.copy()
    m[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(crop, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if paste.detail and data.map_x is not None:
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        mat = geometry.matrix
        cx = (mat[0, 0] * gx + mat[0, 1] * gy + mat[0, 2]).astype(np.float32)
        cy = (mat[1, 0] * gx + mat[1, 1] * gy + mat[1, 2]).astype(np.float32)
        rm = lambda a: cv2.remap(a, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # noqa: E731
        sx, sy = rm(data.map_x), rm(data.map_y)
        inv = geometry.inverse
        px = (inv[0, 0] * sx + inv[0, 1] * sy + inv[0, 2]).astype(np.float32)
        py = (inv[1, 0] * sx + inv[1, 1] * sy + inv[1, 2]).astype(np.float32)
        moved = cv2.remap(paste.photo, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        sigma = 0.5 / geometry.scale
        detail_moved = moved - cv2.GaussianBlur(moved, (0, 0), sigma)
        roi = paste.photo[y0:y1, x0:x1].astype(np.float32)
        photo_detail = roi - cv2.GaussianBlur(roi, (0, 0), sigma)
        head = rm(data.alpha) if data.alpha is not None else np.ones(cx.shape, np.float32)
        keep = 1.0 - rm(data.layers) if data.layers is not None else 1.0
        detail = (head * keep)[..., None] * detail_moved + ((1.0 - head) * keep)[..., None] * photo_detail
        warped = np.clip(warped + detail + 0.5, 0, 255).astype(np.uint8)
    alpha = paste._alpha
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, out[y0:y1, x0:x1], alpha, 1.0 - alpha)
    return out


def _psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b)[mask] ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module", params=[(1.0, 512), (2.0, 256)], ids=["small photo", "photo sharper than the crop"])
def setup(request, landmarker, hopper_crop):
    zoom, size = request.param
    photo = hopper_crop[0]
    if zoom != 1.0:
        photo = cv2.resize(photo, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    face = landmarker.faces(photo)[0]
    geometry = face_crop(face.landmarks, photo.shape, size)
    paste = PasteBack(photo, geometry)
    assert paste.detail == (zoom != 1.0)
    renderer = FrameRenderer(geometry.crop(photo), geometry.to_crop(face.landmarks), detail=paste.detail, pasted=True)
    oval = geometry.to_photo(geometry.to_crop(face.landmarks)[topo.FACE_OVAL, :2])[:, :2]
    inside = np.zeros(paste.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(oval).astype(np.int32)], 1)
    return paste, renderer, inside > 0


@pytest.mark.parametrize("mouth,head", [(JAW, np.zeros(5, np.float32)), (JAW, HEAD)], ids=["jaw", "head motion"])
def test_the_face_is_the_previous_paste_and_the_rest_is_the_photo(setup, mouth, head):
    paste, renderer, inside = setup
    frame = renderer.render(mouth, 0.0, head)
    assert frame.paste.changed is not None
    new, old = paste.paste_frame(frame), reference_paste(paste, frame.image, frame.paste)
    assert _psnr(new, old, inside) >= 45.0
    x0, y0, x1, y1 = paste._region(frame.paste.changed)
    outside = np.ones(paste.shape, bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(new[outside], paste.photo[outside])


def test_no_step_where_the_pasted_region_meets_the_photo(setup):
    paste, renderer, _ = setup
    frame = renderer.render(JAW, 0.0, np.zeros(5, np.float32))
    new = paste.paste_frame(frame).astype(np.int16)
    x0, y0, x1, y1 = paste._region(frame.paste.changed)
    # Across each edge of the region, neighbouring pixels differ no more than the photo's do there.
    for a, b in (((slice(y0, y1), x0 - 1), (slice(y0, y1), x0)), ((slice(y0, y1), x1 - 1), (slice(y0, y1), x1)),
                 ((y1 - 1, slice(x0, x1)), (y1, slice(x0, x1)))):
        try:
            step = np.abs(new[a] - new[b]).max()
            photo_step = np.abs(paste.photo[a].astype(np.int16) - paste.photo[b]).max()
        except IndexError:
            continue
        assert step <= photo_step + 2


def test_unchanged_frame_pastes_nothing_and_a_bigger_change_widens_the_region(setup):
    paste, renderer, _ = setup
    frame = renderer.render(JAW, 0.0, np.zeros(5, np.float32))
    assert paste._region((10, 10, 10, 10)) is None  # an empty changed box: the photo as it is
    wider = paste._region((0, 0, paste.geometry.size, paste.geometry.size))
    narrow = paste._region(frame.paste.changed)
    assert wider[0] <= narrow[0] and wider[1] <= narrow[1] and wider[2] >= narrow[2] and wider[3] >= narrow[3]
