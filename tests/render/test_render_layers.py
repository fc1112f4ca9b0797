"""Layered composite, rest identity, expression estimate and prosody features."""

import numpy as np
import pytest

from talkcli.face.expression import estimate_expression
from talkcli.face.mask import head_matte
from talkcli.render.frames import FrameRenderer


@pytest.fixture(scope="module")
def layered(hopper_crop):
    _, _, crop, lm = hopper_crop
    # A synthetic person matte (the face and a band below it) keeps the test independent of the
    # segmentation model; everything else is background.
    person = np.zeros(crop.shape[:2], np.float32)
    person[40:, 50:206] = 1.0
    return FrameRenderer(crop, lm, person_matte=person), person


def test_rest_frame_is_the_photo_bit_for_bit(layered, hopper_crop):
    r, _ = layered
    _, _, crop, _ = hopper_crop
    np.testing.assert_array_equal(r.render_crop(np.zeros(4), 0.0, np.zeros(5)), crop)


def test_background_outside_the_head_stays_still_while_the_head_moves(layered, hopper_crop):
    r, person = layered
    _, _, crop, _ = hopper_crop
    frame = r.render_crop(np.array([0.6, 0, 0, 0]), 0.0, np.array([3.0, 2.0, 1.5, 0.015, 0.01]))
    import cv2

    # Background: outside the head matte by more than the head's largest motion (~8 px here).
    outside = (r.matte < 1e-4).astype(np.uint8)
    background = cv2.erode(outside, np.ones((21, 21), np.uint8)).astype(bool)
    assert background.mean() > 0.3
    assert np.array_equal(frame[background], crop[background])
    # ... and the head did move.
    assert np.abs(frame.astype(int) - crop).max(axis=2)[r.matte > 0.5].mean() > 3


def test_head_matte_fades_out_below_the_chin(hopper_crop):
    _, _, crop, lm = hopper_crop
    m = head_matte(np.ones(crop.shape[:2], np.float32), lm)
    chin_y = int(lm[152, 1])
    assert m[chin_y - 5].max() == pytest.approx(1.0)
    assert m[min(255, chin_y + 60)].max() < 0.05


def test_expression_estimate_tells_a_smile_from_a_closed_mouth(hopper_crop):
    _, _, _, lm = hopper_crop
    neutral = estimate_expression(lm)
    assert neutral.smile < 0.2 and not neutral.teeth_visible
    smile = lm.copy()
    c = neutral.centre
    for i in (61, 291, 78, 308):  # widen the mouth and lift the corners
        smile[i, 0] = c[0] + (lm[i, 0] - c[0]) * 1.25
        smile[i, 1] -= 0.15 * neutral.width
    smile[14, 1] += 0.2 * neutral.width
    s = estimate_expression(smile)
    assert s.smile > 0.6 and s.teeth_visible and s.neutral_width < s.width


def test_prosody_nods_on_loud_voiced_frames_and_calms_in_pauses():
    from talkcli.motion.prosody import prosody

    sr, fps = 16000, 25
    t = np.arange(2 * sr) / sr
    # 0.5 s silence, 1 s of a 150 Hz voiced tone with two loud beats, 0.5 s silence.
    env = np.where((t > 0.5) & (t < 1.5), 0.1 + 0.3 * (np.abs(t - 0.8) < 0.06) + 0.3 * (np.abs(t - 1.2) < 0.06), 0.0)
    x = (env * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    p = prosody(x, fps, 50)
    assert p.f0_hz.shape == (50,)
    assert np.all(p.f0_hz[15:35][p.f0_hz[15:35] > 0] == pytest.approx(150, rel=0.05))
    peaks = np.flatnonzero(p.nod > 0.9)
    assert any(abs(i - 20) <= 2 for i in peaks) and any(abs(i - 30) <= 2 for i in peaks)
    assert p.activity[:5].max() < 0.3 and p.activity[22:28].min() > 0.7


def test_head_matte_covers_the_whole_face_of_a_turned_head(hopper_crop):
    """A turned face's outline doubles back in x; the head layer must still cover the chin."""
    import cv2

    from talkcli.face import topology as topo

    _, _, crop, lm = hopper_crop
    pts = np.asarray(lm, np.float64)
    centre = pts[:, :3].mean(axis=0)
    yaw = np.radians(40)
    rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    turned = (pts[:, :3] - centre) @ rot.T + centre
    oval = turned[topo.FACE_OVAL, :2]
    xs = oval[:, 0]
    low = oval[:, 1] > oval[:, 1].mean()
    # The premise: in x order, the lower outline is not a function of x any more.
    order = np.argsort(xs[low])
    assert np.any(np.abs(np.diff(oval[low][order, 1])) > 8)
    m = head_matte(np.ones(crop.shape[:2], np.float32), turned)
    inside = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(oval).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    assert m[inside].min() > 0.99
