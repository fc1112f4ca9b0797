"""Mouth interior, eyelids, gaze, glasses and the jaw line, measured on rendered crops."""

import cv2
import numpy as np
import pytest

from talkcli.face import topology as topo
from talkcli.face.glasses import has_glasses
from talkcli.render.frames import FrameRenderer
from talkcli.render.mouth import MouthModel

ZERO_HEAD = np.zeros(5)
LUMA = np.array([0.299, 0.587, 0.114])


def _face_width(lm) -> float:
    return float(np.ptp(lm[topo.FACE_OVAL, 0]))


def _bright_rows(frame, target, column):
    """Rows of the opening's centre column brighter than the midpoint of its range."""
    y0, y1 = int(np.ceil(target[13, 1])), int(np.floor(target[14, 1]))
    col = frame[y0:y1, column].astype(np.float64) @ LUMA
    return y0 + np.flatnonzero(col > (col.min() + col.max()) / 2)


def test_upper_teeth_are_fixed_to_the_skull_not_stretched_by_the_jaw(renderer):
    # Opening the jaw further lowers the lower lip; the upper teeth keep their place and height.
    x = int(round(renderer.rig.source[13, 0]))
    bands = {}
    for jaw in (0.6, 1.0):
        mouth = np.array([jaw, 0, 0, 0.0])
        frame = renderer.render_crop(mouth, 0.0, ZERO_HEAD)
        rows = _bright_rows(frame, renderer.rig.target(mouth, 0.0, ZERO_HEAD), x)
        assert len(rows) >= 2
        bands[jaw] = rows[rows < rows.min() + 12]  # the upper teeth: the first bright run
    assert abs(bands[1.0].max() - bands[0.6].max()) <= 1  # incisal edge where it was
    gap = {j: float(np.diff(renderer.rig.target(np.array([j, 0, 0, 0.0]), 0.0, ZERO_HEAD)[[13, 14], 1])[0]) for j in (0.6, 1.0)}
    assert gap[1.0] > gap[0.6] + 5


def test_open_mouth_shows_teeth_above_a_darker_cavity(renderer):
    mouth = np.array([1.0, 0.0, 0.0, 0.0])
    frame = renderer.render_crop(mouth, 0.0, ZERO_HEAD).astype(np.float64)
    t = renderer.rig.target(mouth, 0.0, ZERO_HEAD)
    x = int(round(t[13, 0]))
    gap = t[14, 1] - t[13, 1]
    teeth = frame[int(t[13, 1] + 0.12 * gap), x - 2 : x + 3] @ LUMA
    cavity = frame[int(t[13, 1] + 0.5 * gap), x - 2 : x + 3] @ LUMA
    assert teeth.mean() > cavity.mean() + 40


@pytest.fixture(scope="module")
def smiling_photo(hopper_crop):
    """Hopper's crop with the lips parted and bluish-white 'teeth' painted into the opening."""
    _, _, crop, lm = hopper_crop
    lm = lm.copy()
    lm[topo.LIPS_INNER_LOWER[1:-1], 1] += 9.0
    img = crop.copy()
    poly = np.concatenate([lm[topo.LIPS_INNER_UPPER, :2], lm[topo.LIPS_INNER_LOWER[::-1], :2]])
    cv2.fillPoly(img, [np.round(poly).astype(np.int32)], (200, 215, 235))
    return img, lm


def test_a_photo_that_shows_teeth_supplies_its_own(smiling_photo, hopper_crop):
    img, lm = smiling_photo
    assert MouthModel(img, lm).photo_teeth
    assert not MouthModel(hopper_crop[2], hopper_crop[3]).photo_teeth
    r = FrameRenderer(img, lm, person_matte=False)
    mouth = np.array([1.0, 0.0, 0.0, 0.0])
    frame = r.render_crop(mouth, 0.0, ZERO_HEAD).astype(np.float64)
    t = r.rig.target(mouth, 0.0, ZERO_HEAD)
    x = int(round(t[13, 0]))
    upper = frame[int(round(lm[13, 1])) + 2 : int(round(lm[13, 1])) + 5, x - 3 : x + 4].reshape(-1, 3)
    # The photo's bluish teeth, not the synthetic ivory ones (red > blue).
    assert np.mean(upper[:, 2] - upper[:, 0]) > 15
    # At rest the frame is still the photo itself.
    np.testing.assert_array_equal(r.render_crop(np.zeros(4), 0.0, ZERO_HEAD), img)


def test_lips_pressed_shut_show_no_line_of_the_photos_teeth(smiling_photo):
    # The warp's map is upsampled, so pixels along a closed seam sample across the photo's
    # opening; the lips they sample must not hold the photo's teeth.
    img, lm = smiling_photo
    r = FrameRenderer(img, lm, person_matte=False)
    press = np.array([0.0, 0.0, 0.0, 1.0])
    frame = r.render_crop(press, 0.0, ZERO_HEAD).astype(np.float64)
    t = r.rig.target(press, 0.0, ZERO_HEAD)
    seam = np.concatenate([t[topo.LIPS_INNER_UPPER], t[topo.LIPS_INNER_LOWER]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.polylines(mask, [np.round(t[topo.LIPS_INNER_UPPER]).astype(np.int32)], False, 1, 5)
    px = frame[mask > 0]
    assert len(px) > 50 and np.ptp(seam[:, 0]) > 20
    bluish = (px[:, 2] - px[:, 0] > 15) & (px @ LUMA > 150)
    assert bluish.sum() == 0, f"{bluish.sum()} of {len(px)} seam pixels show the painted teeth"


@pytest.fixture(scope="module")
def painted(hopper_crop):
    """Hopper's landmarks over a painted face: even skin, white eyes with dark irises."""
    _, _, crop, lm = hopper_crop
    rng = np.random.default_rng(0)
    img = np.clip(np.array([200, 160, 140]) + rng.normal(0, 3, crop.shape), 0, 255).astype(np.uint8)
    for up, lo, iris in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER, 468), (topo.EYE_B_UPPER, topo.EYE_B_LOWER, 473)):
        poly = np.concatenate([lm[up, :2], lm[lo[::-1], :2]])
        mask = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        ew = float(np.linalg.norm(lm[up[-1], :2] - lm[up[0], :2]))
        disc = np.zeros_like(mask)
        cv2.circle(disc, tuple(int(v) for v in np.round(lm[iris, :2])), int(round(0.22 * ew)), 1, -1)
        img[mask > 0] = (235, 235, 230)
        img[(mask > 0) & (disc > 0)] = (50, 35, 30)
        cv2.polylines(img, [np.round(lm[up, :2]).astype(np.int32)], False, (30, 25, 25), 2)  # lashes
    return img, lm, FrameRenderer(img, lm, person_matte=False)


def test_closed_lids_show_lid_skin_not_the_eye(painted, monkeypatch):
    img, lm, r = painted
    closed = r.render_crop(np.zeros(4), 1.0, ZERO_HEAD).astype(np.float64)
    monkeypatch.setattr(r.eyes, "draw_lids", lambda *a, **k: None)
    squeezed = r.render_crop(np.zeros(4), 1.0, ZERO_HEAD).astype(np.float64)
    target = r.rig.target(np.zeros(4), 1.0, ZERO_HEAD)
    skin = float(np.array([200, 160, 140]) @ LUMA)
    for upper in (topo.EYE_A_UPPER, topo.EYE_B_UPPER):
        # Along the closure line, over the middle of the eye: the warp alone leaves a squeezed
        # seam of eye white; the lids cover it with skin and a dark lash line.
        xs = target[upper, 0]
        x0, x1 = int(xs.min() + 0.25 * np.ptp(xs)), int(xs.max() - 0.25 * np.ptp(xs))
        o = np.argsort(xs)
        cols = np.arange(x0, x1)
        ys = np.round(np.interp(cols, xs[o], target[upper, 1][o])).astype(int)

        def band(im, d0, d1):
            return np.stack([im[y + d0 : y + d1, x] for x, y in zip(cols, ys)], axis=1) @ LUMA

        seam, lids, above = band(squeezed, -2, 2), band(closed, -2, 2), band(closed, -6, -2)
        assert seam.max() > skin + 30
        assert lids.max() < skin + 10
        assert lids.min() < skin - 40
        assert np.abs(above - skin).max() < 25


def test_gaze_moves_the_iris_and_nothing_outside_the_eyes(painted):
    img, lm, r = painted
    frame = r.render_crop(np.zeros(4), 0.0, ZERO_HEAD, gaze=np.array([0.12, 0.0]))
    eyes = np.zeros(img.shape[:2], bool)
    for up, lo, iris in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER, 468), (topo.EYE_B_UPPER, topo.EYE_B_LOWER, 473)):
        pts = lm[up + lo, :2]
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 3
        eyes[y0:y1, x0:x1] = True
        ew = float(np.linalg.norm(lm[up[-1], :2] - lm[up[0], :2]))

        def centre(im):
            # The iris colour (the painted lashes are darker and greyer).
            p = im[y0:y1, x0:x1].astype(np.float64)
            iris_px = (np.abs(p - (50, 35, 30)).max(axis=2) < 12)
            return np.nonzero(iris_px)[1].mean()

        assert centre(frame) - centre(img) > 0.06 * ew
    np.testing.assert_array_equal(frame[~eyes], img[~eyes])


def test_glasses_are_detected_on_the_bridge(hopper_crop):
    _, _, crop, lm = hopper_crop
    assert has_glasses(crop, lm)
    # Smooth the bridge between the eyes (no frames there any more): no glasses.
    bare = crop.copy()
    a, b = lm[133, :2], lm[362, :2]
    ew = float(np.linalg.norm(lm[133, :2] - lm[33, :2]))
    y0, y1 = int(a[1] - 0.8 * ew), int(a[1] + 0.3 * ew)
    x0, x1 = int(a[0]), int(b[0])
    bare[y0:y1, x0:x1] = cv2.GaussianBlur(crop, (0, 0), 6)[y0:y1, x0:x1]
    bare[y0:y1, x0:x1] = np.median(crop[int(lm[1, 1]) - 5 : int(lm[1, 1]) + 5, x0:x1].reshape(-1, 3), axis=0)
    assert not has_glasses(bare, lm)


def test_the_neck_below_the_jaw_stays_the_photo_while_the_jaw_opens(hopper_crop):
    _, _, crop, lm = hopper_crop
    person = np.zeros(crop.shape[:2], np.float32)
    person[30:, 40:216] = 1.0
    r = FrameRenderer(crop, lm, person_matte=person)
    mouth = np.array([1.0, 0, 0, 0])
    frame = r.render_crop(mouth, 0.0, ZERO_HEAD)
    chin = r.rig.target(mouth, 0.0, ZERO_HEAD)[topo.CHIN]
    assert chin[1] - lm[topo.CHIN, 1] > 3  # the chin did drop
    below = int(np.ceil(chin[1] + 0.1 * _face_width(lm)))
    np.testing.assert_array_equal(frame[below:], crop[below:])


def test_an_extra_reference_that_shows_teeth_supplies_them(smiling_photo, hopper_crop):
    _, _, crop, lm = hopper_crop
    img, lm_teeth = smiling_photo
    plain = FrameRenderer(crop, lm, person_matte=False, extra_refs=[(crop, lm)])
    assert plain.teeth_ref is None and not plain.mouth.photo_teeth  # no teeth anywhere: synthetic
    r = FrameRenderer(crop, lm, person_matte=False, extra_refs=[(crop, lm), (img, lm_teeth)])
    assert r.teeth_ref == 1 and r.mouth.photo_teeth
    mouth = np.array([1.0, 0.0, 0.0, 0.0])
    t = r.rig.target(mouth, 0.0, ZERO_HEAD)
    x = int(round(t[13, 0]))
    y = int(round(lm_teeth[13, 1])) + 3
    got = r.render_crop(mouth, 0.0, ZERO_HEAD)[y - 1 : y + 2, x - 3 : x + 4].reshape(-1, 3).astype(np.float64)
    synthetic = plain.render_crop(mouth, 0.0, ZERO_HEAD)[y - 1 : y + 2, x - 3 : x + 4].reshape(-1, 3).astype(np.float64)
    assert np.mean(got[:, 2] - got[:, 0]) > 10 > np.mean(synthetic[:, 2] - synthetic[:, 0])
    # The animated photo is still the first one.
    np.testing.assert_array_equal(r.render_crop(np.zeros(4), 0.0, ZERO_HEAD), crop)
