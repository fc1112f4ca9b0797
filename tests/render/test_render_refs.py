"""Extra reference photos as alternative mouth expressions (render.refs), measured on rendered crops."""

import cv2
import numpy as np
import pytest

from talkcli.face import topology as topo
from talkcli.render.frames import FrameRenderer
from talkcli.render.refs import ExpressionRefs, blend_weight, mouth_shape, skin_mask

ZERO_HEAD = np.zeros(5)
OPEN = np.array([1.0, 0.0, 0.0, 0.0])  # "aa"
GREEN = (40, 170, 60)


@pytest.fixture(scope="module")
def plain(hopper_crop):
    _, _, crop, lm = hopper_crop
    return FrameRenderer(crop, lm, person_matte=False)


@pytest.fixture(scope="module")
def open_ref(plain, hopper_crop):
    """The example face rendered with the mouth wide open, its opening painted green (a colour
    neither the photo nor the drawn interior has), with landmarks where the render put the lips."""
    lm = hopper_crop[3]
    target = plain.rig.target(OPEN, 0.0, ZERO_HEAD)
    img = plain.render_crop(OPEN, 0.0, ZERO_HEAD)
    poly = np.concatenate([target[topo.LIPS_INNER_UPPER], target[topo.LIPS_INNER_LOWER[::-1]]])
    cv2.fillPoly(img, [np.round(poly).astype(np.int32)], GREEN)
    return img, np.concatenate([target[: topo.N_MESH], lm[topo.N_MESH :, :2]])


@pytest.fixture(scope="module")
def with_ref(hopper_crop, open_ref):
    _, _, crop, lm = hopper_crop
    return FrameRenderer(crop, lm, person_matte=False, extra_refs=[open_ref])


def _opening_mask(renderer, mouth):
    t = renderer.rig.target(mouth, 0.0, ZERO_HEAD)
    mask = np.zeros((renderer.crop.shape[0],) * 2, np.uint8)
    poly = np.concatenate([t[topo.LIPS_INNER_UPPER], t[topo.LIPS_INNER_LOWER[::-1]]])
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0


def _greenness(frame, mask):
    px = frame[mask].astype(np.float64)
    return float(np.mean(px[:, 1] - px[:, 0]))


def test_an_open_target_takes_the_open_mouthed_photos_mouth(with_ref, plain):
    mask = _opening_mask(plain, OPEN)
    got = with_ref.render_crop(OPEN, 0.0, ZERO_HEAD)
    assert with_ref.refs.weights[0] > 0.9
    assert _greenness(got, mask) > 80  # the extra photo's (green) interior
    assert _greenness(plain.render_crop(OPEN, 0.0, ZERO_HEAD), mask) < 20  # the drawn one


def test_the_rest_frame_is_still_the_first_photo(with_ref, hopper_crop):
    np.testing.assert_array_equal(with_ref.render_crop(np.zeros(4), 0.0, ZERO_HEAD), hopper_crop[2])


@pytest.mark.parametrize("mouth", [[0.0, 0.0, 0.0, 1.0], [0.2, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
def test_shapes_closer_to_the_first_photo_leave_the_frame_as_without_extra_refs(with_ref, plain, mouth):
    # A closure, a slightly parted mouth and a rounded one are nearer the closed photo's mouth.
    mouth = np.array(mouth)
    np.testing.assert_array_equal(with_ref.render_crop(mouth, 0.0, ZERO_HEAD), plain.render_crop(mouth, 0.0, ZERO_HEAD))
    assert with_ref.refs.weights[0] == 0.0


def test_the_blend_grows_smoothly_as_the_mouth_opens(with_ref, plain):
    mask = _opening_mask(plain, OPEN)
    weights, green = [], []
    for jaw in np.linspace(0.0, 1.0, 41):
        frame = with_ref.render_crop(np.array([jaw, 0.0, 0.0, 0.0]), 0.0, ZERO_HEAD)
        weights.append(float(with_ref.refs.weights[0]))
        green.append(_greenness(frame, mask))
    weights = np.array(weights)
    assert weights[0] == 0.0 and weights[-1] > 0.9
    assert np.all(np.diff(weights) > -1e-3)  # a mouth opening steadily takes more of the open photo
    assert np.abs(np.diff(weights)).max() < 0.12  # no step: 1/40 of the jaw range moves the weight a little
    assert np.abs(np.diff(green)).max() < 15  # nor does the picture jump


def test_blend_weight_is_zero_at_the_first_photo_half_at_the_midpoint_and_falls_off_the_line():
    primary, other = np.array([0.0, 1.0, 0.0]), np.array([0.4, 1.0, 0.05])
    assert blend_weight(primary, primary, other) == 0.0
    assert blend_weight((primary + other) / 2, primary, other) == pytest.approx(0.5)
    assert blend_weight(other, primary, other) == pytest.approx(1.0)
    off = other + np.array([0.0, -0.2, 0.0])  # as open, but much narrower (rounded)
    assert blend_weight(off, primary, other) < 0.5
    # Continuous: a tiny change of shape changes the weight a tiny bit, everywhere on a grid.
    for gap in np.linspace(0.0, 0.6, 25):
        s = np.array([gap, 0.95, 0.02])
        assert abs(blend_weight(s + [1e-4, 0, 0], primary, other) - blend_weight(s, primary, other)) < 1e-2
    # An extra photo with the same mouth as the first adds nothing.
    assert blend_weight(other, primary, primary + 0.01) == 0.0


def test_an_extra_photo_with_the_first_photos_mouth_is_left_out(hopper_crop):
    _, _, crop, lm = hopper_crop
    assert FrameRenderer(crop, lm, person_matte=False, extra_refs=[(crop, lm)]).refs is None


def test_a_moved_recoloured_extra_photo_is_aligned_and_colour_matched(plain, open_ref, hopper_crop):
    img, lm = open_ref
    s = img.shape[0]
    # Another photo: rotated 6 degrees, 12% larger, shifted, on a 256 + 64 canvas, darker and warmer.
    m = cv2.getRotationMatrix2D((s / 2, s / 2), 6.0, 1.12)
    m[:, 2] += (30, 20)
    moved = cv2.warpAffine(img, m, (s + 64, s + 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = np.clip(moved.astype(np.float64) * (1.0, 0.85, 0.8) - 10, 0, 255).astype(np.uint8)
    lm_moved = lm @ m[:, :2].T + m[:, 2]
    refs = ExpressionRefs(hopper_crop[2], plain.rig, [(moved, lm_moved)])
    ref = refs.refs[0]
    # Back where they were, to within what the open jaw moved the nose base (a rigid point) by.
    np.testing.assert_allclose(ref["verts"][: topo.N_MESH], lm[: topo.N_MESH], atol=1.0)
    np.testing.assert_allclose(ref["shape"], mouth_shape(lm, plain.rig.neutral_width), atol=0.01)
    # Skin colour (cheeks, forehead, chin) back within a few levels of the photo before the change.
    skin = skin_mask(img.shape[:2], lm)
    off_after = np.abs(ref["image"][skin].astype(np.float64).mean(axis=0) - img[skin].mean(axis=0)).max()
    back = cv2.warpAffine(moved, cv2.invertAffineTransform(m), (s, s), flags=cv2.INTER_LINEAR)
    off_before = np.abs(back[skin].astype(np.float64).mean(axis=0) - img[skin].mean(axis=0)).max()
    crop = hopper_crop[2]
    assert off_before > 20 and off_after < 2
    # And it still lends its mouth to an open target.
    r = FrameRenderer(crop, hopper_crop[3], person_matte=False, extra_refs=[(moved, lm_moved)])
    assert _greenness(r.render_crop(OPEN, 0.0, ZERO_HEAD), _opening_mask(plain, OPEN)) > 80


def test_renders_with_extra_refs_are_deterministic(hopper_crop, open_ref):
    _, _, crop, lm = hopper_crop
    mouth = np.array([0.8, 0.1, 0.2, 0.0])
    head = np.array([2.0, -1.0, 0.5, 0.01, 0.0])
    frames = [FrameRenderer(crop, lm, extra_refs=[open_ref]).render_crop(mouth, 0.0, head) for _ in range(2)]
    np.testing.assert_array_equal(frames[0], frames[1])


def test_paste_back_leaves_the_borrowed_mouth_without_the_first_photos_fine_detail(landmarker, hopper_crop, open_ref):
    # On a photo sharper than the crop, paste-back adds the photo's own fine detail, warped; over
    # another photo's mouth that detail would be the wrong mouth's, so it is kept off it.
    from talkcli.face.crop import face_crop
    from talkcli.render.paste import PasteBack

    big = cv2.resize(hopper_crop[0], None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    face = landmarker.faces(big)[0]
    geometry = face_crop(face.landmarks, big.shape, 256)
    paste = PasteBack(big, geometry)
    assert paste.detail
    r = FrameRenderer(geometry.crop(big), geometry.to_crop(face.landmarks), detail=paste.detail, person_matte=False,
                      extra_refs=[open_ref])
    frame = r.render(OPEN, 0.0, ZERO_HEAD)
    weight = float(r.refs.weights[0])
    assert weight > 0.9
    t = r.rig.target(OPEN, 0.0, ZERO_HEAD)
    lips = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(lips, [np.round(np.concatenate([t[topo.LIPS_OUTER_UPPER], t[topo.LIPS_OUTER_LOWER[::-1]]])).astype(np.int32)], 1)
    assert frame.paste.layers[lips > 0].min() >= weight - 1e-3
