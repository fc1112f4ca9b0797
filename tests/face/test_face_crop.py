"""face_crop / CropGeometry: exact inverse, eye-level de-rotation, face size, sampling direction."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkcli.face import topology as topo
from talkcli.face.crop import CropGeometry, face_crop

SIZE = 256


def _eye_angle_deg(pts) -> float:
    a = pts[topo.EYE_A_UPPER + topo.EYE_A_LOWER, :2].mean(axis=0)
    b = pts[topo.EYE_B_UPPER + topo.EYE_B_LOWER, :2].mean(axis=0)
    return float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))


def _h(m):
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _similarity(angle_deg, scale, tx, ty):
    a = np.radians(angle_deg)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def _check_inverse(g: CropGeometry, rng) -> None:
    np.testing.assert_allclose(_h(g.matrix) @ _h(g.inverse), np.eye(3), atol=1e-9)
    np.testing.assert_allclose(_h(g.inverse) @ _h(g.matrix), np.eye(3), atol=1e-9)
    crop_pts = rng.uniform(-0.5 * g.size, 1.5 * g.size, (200, 3))
    np.testing.assert_allclose(g.to_crop(g.to_photo(crop_pts)), crop_pts, atol=1e-7)
    h, w = g.photo_shape
    photo_pts = np.column_stack([rng.uniform(0, w, 200), rng.uniform(0, h, 200), rng.uniform(-50, 50, 200)])
    np.testing.assert_allclose(g.to_photo(g.to_crop(photo_pts)), photo_pts, atol=1e-7)


@pytest.fixture(scope="module")
def geometry(photo, hopper):
    return face_crop(hopper.landmarks, photo.shape, SIZE)


@pytest.fixture(scope="module")
def rotated(photo, landmarker):
    """The photo rotated 20 degrees (canvas enlarged), the rotation matrix and its detected face."""
    h, w = photo.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 20.0, 1.0)  # counter-clockwise on screen
    cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    rot[0, 2] += nw / 2 - w / 2
    rot[1, 2] += nh / 2 - h / 2
    img = cv2.warpAffine(photo, rot, (nw, nh), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    faces = landmarker.faces(img)
    assert len(faces) == 1
    return img, rot, faces[0]


def test_matrix_and_inverse_compose_to_identity(geometry):
    assert geometry.size == SIZE
    assert geometry.photo_shape == (600, 512)
    _check_inverse(geometry, np.random.default_rng(1))


def test_z_is_scaled_with_the_crop(geometry):
    pts = np.array([[100.0, 200.0, 10.0], [300.0, 250.0, -4.0]])
    out = geometry.to_crop(pts)
    np.testing.assert_allclose(out[:, 2], pts[:, 2] * geometry.scale)
    assert geometry.scale == pytest.approx(np.sqrt(abs(np.linalg.det(geometry.matrix[:, :2]))))


@pytest.mark.parametrize("size,fraction", [(256, 0.6), (512, 0.6), (256, 0.4), (384, 0.85)])
def test_face_outline_spans_face_fraction_and_is_centred(photo, hopper, size, fraction):
    g = face_crop(hopper.landmarks, photo.shape, size, fraction)
    oval = g.to_crop(hopper.landmarks)[topo.FACE_OVAL, :2]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    extent = hi - lo
    assert max(extent) == pytest.approx(fraction * size, rel=1e-9)
    assert min(extent) > 0.5 * max(extent)  # a face, not a sliver
    np.testing.assert_allclose((lo + hi) / 2, [size / 2, size / 2], atol=1e-6)


def test_eyes_are_level_in_the_crop(geometry, hopper):
    assert abs(_eye_angle_deg(geometry.to_crop(hopper.landmarks))) < 1e-6


def test_crop_samples_the_photo_where_to_crop_says(geometry):
    # One bright dot in a flat photo must land at to_crop(dot) in the crop.
    h, w = geometry.photo_shape
    flat = np.full((h, w, 3), 40, dtype=np.uint8)
    dot = np.array([[260.0, 300.0]])
    cv2.circle(flat, (260, 300), 3, (255, 255, 255), -1)
    out = geometry.crop(flat)
    assert out.shape == (SIZE, SIZE, 3)
    grey = out[..., 0].astype(np.float64)
    ys, xs = np.nonzero(grey > 150)
    weights = grey[ys, xs]
    centre = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    np.testing.assert_allclose(centre, geometry.to_crop(dot)[0, :2], atol=0.6)


def test_rotated_photo_is_de_rotated(rotated, geometry, hopper, photo, landmarker):
    img, rot, face = rotated
    assert _eye_angle_deg(face.landmarks) == pytest.approx(_eye_angle_deg(hopper.landmarks) - 20.0, abs=2.0)
    g = face_crop(face.landmarks, img.shape, SIZE)
    _check_inverse(g, np.random.default_rng(2))
    # Where the un-rotated photo's landmarks land through the rotation and the new crop:
    # the same places as through the original crop (up to re-detection noise).
    moved = hopper.landmarks[:, :2].astype(np.float64) @ rot[:, :2].T + rot[:, 2]
    a = g.to_crop(moved)
    b = geometry.to_crop(hopper.landmarks)[:, :2]
    assert np.median(np.linalg.norm(a - b, axis=1)) < 0.02 * SIZE
    assert abs(_eye_angle_deg(a)) < 2.0
    # Measured on the pixels: FaceMesh on the crop of the rotated photo finds level eyes,
    # and the two crops show the same face.
    crop = g.crop(img)
    again = landmarker.faces(crop)
    assert len(again) == 1
    assert abs(_eye_angle_deg(again[0].landmarks)) < 2.0
    reference = geometry.crop(photo)
    tilted = cv2.warpAffine(reference, cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 20.0, 1.0), (SIZE, SIZE))
    assert _ncc(crop, reference) > 0.85
    assert _ncc(tilted, reference) < 0.7  # control: a 20-degree tilt is clearly detected by this measure


def _ncc(a, b) -> float:
    """Normalised cross-correlation of the central 60% of two crops."""
    inner = slice(SIZE // 5, SIZE - SIZE // 5)
    x = a[inner, inner].astype(np.float64).ravel()
    y = b[inner, inner].astype(np.float64).ravel()
    return float(np.corrcoef(x, y)[0, 1])


@settings(max_examples=60, deadline=None)
@given(
    angle=st.floats(-179.0, 179.0),
    scale=st.floats(0.3, 3.0),
    tx=st.floats(-400.0, 400.0),
    ty=st.floats(-400.0, 400.0),
    size=st.sampled_from([64, 256, 512, 1000]),
    fraction=st.floats(0.2, 0.9),
)
def test_crop_is_invariant_to_similarity_transforms_of_the_photo(hopper_landmarks, angle, scale, tx, ty, size, fraction):
    # Moving, rotating or scaling the photo must not move the face in the crop.
    m = _similarity(angle, scale, tx, ty)
    lm = hopper_landmarks.astype(np.float64)
    moved = lm.copy()
    moved[:, :2] = lm[:, :2] @ m[:, :2].T + m[:, 2]
    moved[:, 2] = lm[:, 2] * scale
    base = face_crop(lm, (600, 512), size, fraction)
    g = face_crop(moved, (int(600 * scale) + 1, int(512 * scale) + 1), size, fraction)
    np.testing.assert_allclose(g.to_crop(moved), base.to_crop(lm), atol=1e-6 * size)
    assert g.scale == pytest.approx(base.scale / scale, rel=1e-9)
    _check_inverse(g, np.random.default_rng(0))


@pytest.fixture(scope="module")
def hopper_landmarks(hopper):
    return hopper.landmarks
