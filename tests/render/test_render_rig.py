"""FaceRig: mesh layout, what each parameter moves, and folded triangles."""

import numpy as np
import pytest

from talkcli.face import topology as topo
from talkcli.render.rig import RING_FOLLOW, FaceRig

ZERO_HEAD = np.zeros(5)
NEUTRAL = np.zeros(4)


@pytest.fixture(scope="module")
def rig(hopper_crop):
    _, _, crop, lm = hopper_crop
    return FaceRig.build(lm, crop.shape[0])


def _inner_gap(target) -> float:
    """Largest vertical opening between the inner lips, crop pixels."""
    return float(np.max(target[topo.LIPS_INNER_LOWER, 1] - target[topo.LIPS_INNER_UPPER, 1]))


def _signed_area(p, tris):
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def test_mesh_layout(rig, hopper_crop):
    _, _, crop, lm = hopper_crop
    size = crop.shape[0]
    assert rig.size == size and rig.n_face == 468
    np.testing.assert_array_equal(rig.source[:468], lm[:468, :2])
    assert np.all((rig.source >= 0) & (rig.source <= size - 1))
    assert rig.triangles.min() >= 0 and rig.triangles.max() == len(rig.source) - 1
    # The region between the face outline and the crop border is tiled exactly (no gaps, no
    # overlaps); the face itself is FaceMesh's projected 3D surface plus the filled holes,
    # which may overlap itself by a few pixels where the surface turns away (nose, lip line).
    x, y = rig.source[topo.FACE_OVAL, 0], rig.source[topo.FACE_OVAL, 1]
    oval_area = abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) / 2
    n_outer = len(rig.triangles) - 852 - len(topo.hole_triangles())
    outer_area = np.abs(_signed_area(rig.source, rig.triangles[:n_outer])).sum() / 2
    assert outer_area == pytest.approx((size - 1) ** 2 - oval_area, rel=1e-9)
    face_area = np.abs(_signed_area(rig.source, rig.triangles[n_outer:])).sum() / 2
    assert face_area == pytest.approx(oval_area, rel=0.005)
    # Skin is drawn last: the tessellation closes the triangle list.
    np.testing.assert_array_equal(rig.triangles[-852:], topo.tessellation_triangles())
    assert rig.mouth_width == pytest.approx(np.linalg.norm(lm[291, :2] - lm[61, :2]))


def test_border_never_moves_and_rings_follow_the_head_partly(rig):
    head = np.array([4.0, -3.0, 2.0, 0.02, -0.015])
    target = rig.target(np.array([1.0, 0.5, 0.5, 0.0]), 1.0, head)
    border = slice(rig.ring_slices[1].stop, len(rig.source))
    np.testing.assert_array_equal(target[border], rig.source[border])
    # The rings follow the head's motion of their parent outline points (before any fold repair
    # of the skin, which never moves ring points).
    moved = _unrepaired(rig, np.array([1.0, 0.5, 0.5, 0.0]), 1.0, head)
    still = _unrepaired(rig, np.array([1.0, 0.5, 0.5, 0.0]), 1.0, ZERO_HEAD)
    face_move = moved[:468] - still[:468]
    np.testing.assert_array_equal(target[468:], moved[468:])
    for sl, parent, follow in zip(rig.ring_slices, rig.ring_parent, RING_FOLLOW):
        ring_move = target[sl] - rig.source[sl]
        full = follow * face_move[parent]
        # Near the crop border a ring point moves less (it must not crowd the fixed border),
        # always in its parent's direction; away from the border it follows exactly.
        exact = np.all(np.abs(ring_move - full) < 1e-6, axis=1)
        assert exact.mean() > 0.5
        cross = ring_move[:, 0] * full[:, 1] - ring_move[:, 1] * full[:, 0]
        assert np.all(np.abs(cross) < 1e-6 * np.maximum(1, np.linalg.norm(full, axis=1) ** 2))
        assert np.all(np.linalg.norm(ring_move, axis=1) <= np.linalg.norm(full, axis=1) + 1e-9)
    assert np.abs(face_move).max() > 5.0


def test_neutral_target_keeps_a_closed_mouth_photo_in_place(rig):
    # Grace Hopper's lips are closed in the photo: with all parameters at rest nothing moves
    # by more than a pixel.
    assert _inner_gap(rig.source) < 1.0
    disp = rig.target(NEUTRAL, 0.0, ZERO_HEAD) - rig.source
    assert np.abs(disp).max() < 1.0


def test_jaw_opens_the_inner_lips_and_press_closes_them(rig):
    gap = {jaw: _inner_gap(rig.target(np.array([jaw, 0, 0, 0.0]), 0.0, ZERO_HEAD)) for jaw in (0.0, 0.3, 1.0)}
    assert gap[1.0] > gap[0.3] > gap[0.0]
    # At rest the lips stay as photographed (closed here, to a fraction of a pixel).
    assert gap[0.0] == pytest.approx(_inner_gap(rig.source), abs=1e-9)
    assert gap[1.0] > 0.25 * rig.mouth_width
    pressed = rig.target(np.array([1.0, 0, 0, 1.0]), 0.0, ZERO_HEAD)
    assert _inner_gap(pressed) == pytest.approx(0.0, abs=1e-9)
    # The jaw opens downwards: the chin drops, the nose stays.
    open_ = rig.target(np.array([1.0, 0, 0, 0.0]), 0.0, ZERO_HEAD)
    assert open_[topo.CHIN, 1] - rig.source[topo.CHIN, 1] > 0.5 * gap[1.0]
    assert abs(open_[topo.NOSE_TIP, 1] - rig.source[topo.NOSE_TIP, 1]) < 0.05 * gap[1.0]


def test_mouth_shapes_are_absolute(hopper_crop):
    # A photo with parted lips keeps them parted at rest (the neutral frame is the photo), but
    # press shuts them, expression 0 relaxes them shut, and the opening for a jaw value is set,
    # not added to the photo's.
    _, _, crop, lm = hopper_crop
    parted = lm.copy()
    parted[topo.LIPS_INNER_LOWER[1:-1], 1] += 6.0
    rig = FaceRig.build(parted, crop.shape[0])
    assert _inner_gap(rig.source) > 5.0
    np.testing.assert_array_equal(rig.target(NEUTRAL, 0.0, ZERO_HEAD), rig.source)
    assert _inner_gap(rig.target(np.array([0.0, 0, 0, 1.0]), 0.0, ZERO_HEAD)) == pytest.approx(0.0, abs=1e-9)
    relaxed = FaceRig.build(parted, crop.shape[0], expression=0.0)
    assert _inner_gap(relaxed.target(NEUTRAL, 0.0, ZERO_HEAD)) == pytest.approx(0.0, abs=1e-9)
    closed = FaceRig.build(lm, crop.shape[0])
    wide = np.array([1.0, 0, 0, 0])
    assert _inner_gap(rig.target(wide, 0.0, ZERO_HEAD)) == pytest.approx(_inner_gap(closed.target(wide, 0.0, ZERO_HEAD)), rel=0.05)


def test_round_narrows_and_stretch_widens_the_mouth(rig):
    def width(mouth):
        t = rig.target(np.asarray(mouth, float), 0.0, ZERO_HEAD)
        return float(t[topo.MOUTH_CORNERS[1], 0] - t[topo.MOUTH_CORNERS[0], 0])

    w0 = width([0, 0, 0, 0])
    assert width([0, 1, 0, 0]) < 0.8 * w0
    assert width([0, 0, 1, 0]) > 1.05 * w0


def test_blink_closes_the_eyes(rig):
    for upper, lower in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
        u, l = upper[1:-1], lower[1:-1]
        open_gap = rig.source[l, 1] - rig.source[u, 1]
        assert np.all(open_gap > 1.0)
        half = rig.target(NEUTRAL, 0.5, ZERO_HEAD)
        np.testing.assert_allclose(half[l, 1] - half[u, 1], 0.5 * open_gap, atol=1e-9)
        closed = rig.target(NEUTRAL, 1.0, ZERO_HEAD)
        np.testing.assert_allclose(closed[l, 1] - closed[u, 1], 0.0, atol=1e-9)
    # Blinking moves the eyes, not the mouth.
    closed = rig.target(NEUTRAL, 1.0, ZERO_HEAD)
    neutral = rig.target(NEUTRAL, 0.0, ZERO_HEAD)
    lips = topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER
    assert np.abs(closed[lips] - neutral[lips]).max() < 1e-6


def test_roll_and_translation_move_the_face_rigidly(rig):
    neutral = rig.target(NEUTRAL, 0.0, ZERO_HEAD)[:468]
    shifted = rig.target(NEUTRAL, 0.0, np.array([0, 0, 0, 0.02, -0.01]))[:468]
    np.testing.assert_allclose(shifted - neutral, np.tile([0.02 * rig.face_width, -0.01 * rig.face_width], (468, 1)), atol=1e-9)
    rolled = rig.target(NEUTRAL, 0.0, np.array([0, 0, 4.0, 0, 0]))[:468]
    a = neutral - neutral.mean(axis=0)
    b = rolled - rolled.mean(axis=0)
    angle = np.degrees(np.arctan2(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), np.sum(a * b)))
    assert angle == pytest.approx(4.0, abs=1e-6)  # clockwise on screen (y down) for positive roll


FOLD_CASES = {
    "neutral": ([0, 0, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "press": ([0, 0, 0, 1], 0.0, [0, 0, 0, 0, 0]),
    "jaw 0.5": ([0.5, 0, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "jaw 1": ([1, 0, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "round 1": ([0, 1, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "stretch 1": ([0, 0, 1, 0], 0.0, [0, 0, 0, 0, 0]),
    "blink 1": ([0, 0, 0, 0], 1.0, [0, 0, 0, 0, 0]),
    "head (3,2,2,0.01,0.01)": ([0, 0, 0, 0], 0.0, [3, 2, 2, 0.01, 0.01]),
    "all at once": ([1, 0.6, 0.3, 0], 1.0, [3, 2, 2, 0.01, 0.01]),
    "press, turned": ([0.4, 0, 0, 1], 0.5, [-4, -3, 1, 0, 0]),
}


@pytest.mark.parametrize("case", list(FOLD_CASES))
def test_no_triangle_folds(rig, case):
    # Strict: every sign change of a triangle's area counts, slivers included. Only the mouth and
    # eye holes may collapse (closed lips and lids).
    mouth, blink, head = FOLD_CASES[case]
    target = rig.target(np.asarray(mouth, float), blink, np.asarray(head, float))
    n_holes = len(topo.hole_triangles())
    n_outer = len(rig.triangles) - 852 - n_holes
    tris = np.concatenate([rig.triangles[:n_outer], rig.triangles[n_outer + n_holes:]])
    before = _signed_area(rig.source, tris)
    assert np.all(np.abs(before) > 0)
    after = _signed_area(target, tris)
    folded = np.flatnonzero(np.sign(before) != np.sign(after))
    assert len(folded) == 0, [tuple(int(v) for v in tris[i]) for i in folded[:8]]
    assert len(rig.folded(target)) == 0


def test_fold_repair_is_local_and_keeps_closures_exact(rig):
    # Press with a turned head used to flip slivers at the lip corners: the repair moves only a
    # few vertices by a fraction of a pixel and never the inner lips (closures stay shut).
    mouth, head = np.array([0.4, 0, 0, 1.0]), np.array([-5.0, -4.0, 1.5, 0, 0])
    raw = rig._relax(_unrepaired(rig, mouth, 0.0, head))
    assert len(rig.folded(raw)) > 0
    fixed = rig.unfold(raw)
    assert len(rig.folded(fixed)) == 0
    moved = np.linalg.norm(fixed - raw, axis=1)
    assert np.count_nonzero(moved) <= 12 and moved.max() < 1.5
    inner = topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER
    np.testing.assert_array_equal(fixed[inner], raw[inner])


def _unrepaired(rig, mouth, blink, head):
    """The rig's target before any fold repair."""
    rig.unfold = lambda t: t
    try:
        return rig.target(mouth, blink, head)
    finally:
        del rig.unfold


def test_a_smiling_photo_can_say_oo(hopper_crop):
    """The photo's smile does not keep the mouth wide through a rounded vowel."""
    _, _, crop, lm = hopper_crop
    smile = np.asarray(lm, np.float64).copy()
    lips = sorted(set(topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER + topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER))
    cx = smile[list(topo.MOUTH_CORNERS), 0].mean()
    half = (smile[topo.MOUTH_CORNERS[1], 0] - smile[topo.MOUTH_CORNERS[0], 0]) / 2
    u = (smile[lips, 0] - cx) / half
    smile[lips, 0] = cx + (smile[lips, 0] - cx) * 1.25  # wider ...
    smile[lips, 1] -= 0.08 * half * np.clip(u, -1, 1) ** 2  # ... with the corners lifted
    rig = FaceRig.build(smile, crop.shape[0])
    assert rig.mouth_width > 1.15 * rig.neutral_width  # the rig sees the smile
    oo = rig.target(np.array([0.35, 1.0, 0, 0]), 0.0, ZERO_HEAD)
    width = float(oo[topo.MOUTH_CORNERS[1], 0] - oo[topo.MOUTH_CORNERS[0], 0])
    assert width < 0.95 * rig.neutral_width
    assert len(rig.folded(oo)) == 0
