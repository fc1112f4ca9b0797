"""FaceLandmarker.faces and choose_face on the example photo and synthetic compositions."""

import cv2
import numpy as np
import pytest

from talkcli.errors import ExitCode, NoFaceError
from talkcli.face import topology as topo
from talkcli.face.detect import MIN_FACE_PIXELS, Face, choose_face


def _eye_centres(pts):
    a = pts[topo.EYE_A_UPPER + topo.EYE_A_LOWER, :2].mean(axis=0)
    b = pts[topo.EYE_B_UPPER + topo.EYE_B_LOWER, :2].mean(axis=0)
    return a, b


def test_example_has_one_face_with_478_landmarks_inside_the_photo(photo, hopper):
    h, w = photo.shape[:2]
    lm = hopper.landmarks
    assert lm.shape == (478, 3) and lm.dtype == np.float32
    assert np.all(np.isfinite(lm))
    assert np.all((lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h))
    # The box is the landmarks' bounding box and is a plausible portrait face.
    x0, y0, x1, y1 = hopper.box
    assert (x0, y0, x1, y1) == pytest.approx((lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()))
    assert 0.2 * w < x1 - x0 < 0.7 * w
    assert 0.5 < hopper.score <= 1.0


def test_landmarks_are_anatomically_placed(hopper):
    lm = hopper.landmarks
    eye_a, eye_b = _eye_centres(lm)
    assert eye_a[0] < lm[topo.NOSE_TIP, 0] < eye_b[0]  # "a" is the eye on the image's left
    mouth_y = lm[list(topo.MOUTH_CORNERS), 1].mean()
    assert max(eye_a[1], eye_b[1]) < lm[topo.NOSE_TIP, 1] < mouth_y < lm[topo.CHIN, 1]
    assert lm[topo.MOUTH_CORNERS[0], 0] < lm[topo.MOUTH_CORNERS[1], 0]
    # Irises (refined landmarks) sit inside their eyes.
    for iris, eye in ((topo.IRIS_A, topo.EYE_A_UPPER + topo.EYE_A_LOWER), (topo.IRIS_B, topo.EYE_B_UPPER + topo.EYE_B_LOWER)):
        c = lm[iris[0], :2]
        e = lm[eye, :2]
        assert e[:, 0].min() < c[0] < e[:, 0].max()


def test_landmarks_follow_the_photo_when_it_is_padded(photo, landmarker, hopper):
    # Landmarks are mapped back from FaceMesh's window to photo pixels: pad the photo
    # by (dx, dy) and every landmark must move by (dx, dy).
    dx, dy = 90, 40
    padded = cv2.copyMakeBorder(photo, dy, 0, dx, 0, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    faces = landmarker.faces(padded)
    assert len(faces) == 1
    shift = faces[0].landmarks[:, :2] - hopper.landmarks[:, :2]
    assert np.median(shift[:, 0]) == pytest.approx(dx, abs=1.0)
    assert np.median(shift[:, 1]) == pytest.approx(dy, abs=1.0)
    assert np.percentile(np.linalg.norm(shift - (dx, dy), axis=1), 90) < 2.5


def test_landmarks_agree_with_facemesh_on_the_whole_photo(photo, hopper):
    # faces() runs FaceMesh on a resampled window around the detection and maps the points
    # back; FaceMesh run directly on the whole photo (big enough here) is the reference.
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(photo)
    h, w = photo.shape[:2]
    ref = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
    d = hopper.landmarks[:, :2] - ref
    assert np.all(np.abs(np.median(d, axis=0)) < 1.0)  # no offset
    assert np.percentile(np.linalg.norm(d, axis=1), 90) < 5.0


def test_landmarks_scale_with_the_photo(photo, landmarker, hopper):
    # At half size FaceMesh's window is upscaled about 2x: x, y and depth must still come
    # back in the half-size photo's pixels.
    half = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    faces = landmarker.faces(half)
    assert len(faces) == 1
    lm = faces[0].landmarks
    expected_xy = (hopper.landmarks[:, :2] + 0.5) * 0.5 - 0.5  # pixel centres
    assert np.all(np.abs(np.median(lm[:, :2] - expected_xy, axis=0)) < 0.75)
    assert np.std(lm[:, 2]) == pytest.approx(0.5 * np.std(hopper.landmarks[:, 2]), rel=0.15)


def test_blank_image_has_no_face(landmarker):
    grey = np.full((480, 400, 3), 128, dtype=np.uint8)
    faces = landmarker.faces(grey)
    assert faces == []
    with pytest.raises(NoFaceError, match="no face found in grey.png") as info:
        choose_face(faces, None, "grey.png")
    assert info.value.exit_code == ExitCode.INPUT == 4


@pytest.fixture(scope="module")
def two_faces(photo, landmarker):
    """The photo at full size on the left and at 0.6x on the right of a grey canvas."""
    small = cv2.resize(photo, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    h, w = photo.shape[:2]
    canvas = np.full((h, w + small.shape[1], 3), 128, dtype=np.uint8)
    canvas[:, :w] = photo
    y = (h - small.shape[0]) // 2
    canvas[y : y + small.shape[0], w:] = small
    return canvas, w, landmarker.faces(canvas)


def test_two_faces_are_sorted_largest_first(two_faces):
    _, split, faces = two_faces
    assert len(faces) == 2
    big, small = faces
    assert big.area > small.area
    assert small.area / big.area == pytest.approx(0.36, rel=0.15)  # 0.6 squared
    assert big.box[2] < split <= small.box[0]  # the big one is the left copy


def test_face_index_picks_the_smaller_face(two_faces):
    _, split, faces = two_faces
    assert choose_face(faces, None, "two.png") is faces[0]
    assert choose_face(faces, 0, "two.png") is faces[0]
    chosen = choose_face(faces, 1, "two.png")
    assert chosen is faces[1]
    assert chosen.landmarks[:, 0].min() >= split


def test_faces_are_sorted_by_area_not_by_score(photo, landmarker):
    # Darken the big copy so the detector is less sure of it than of the small one.
    small = cv2.resize(photo, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    h, w = photo.shape[:2]
    canvas = np.full((h, w + small.shape[1], 3), 128, dtype=np.uint8)
    canvas[:, :w] = (photo * 0.35).astype(np.uint8)
    y = (h - small.shape[0]) // 2
    canvas[y : y + small.shape[0], w:] = small
    faces = landmarker.faces(canvas)
    assert len(faces) == 2
    assert faces[0].score < faces[1].score  # the premise: score order is the other way round
    assert faces[0].area > 2 * faces[1].area
    assert faces[0].box[2] < w


@pytest.mark.parametrize("index", [2, 5, -1])
def test_face_index_out_of_range_is_an_input_error(two_faces, index):
    _, _, faces = two_faces
    with pytest.raises(NoFaceError, match=f"--face-index {index} asked for, but two.png has 2 face") as info:
        choose_face(faces, index, "two.png")
    assert info.value.exit_code == ExitCode.INPUT
    assert "0..1" in info.value.hint


def test_a_face_below_the_minimum_size_is_refused(hopper):
    tiny = Face(box=(10.0, 10.0, 10.0 + MIN_FACE_PIXELS - 1, 40.0), score=0.9, landmarks=hopper.landmarks)
    with pytest.raises(NoFaceError, match="too small"):
        choose_face([tiny], None, "tiny.png")
    ok = Face(box=(10.0, 10.0, 10.0 + MIN_FACE_PIXELS, 10.0 + MIN_FACE_PIXELS), score=0.9, landmarks=hopper.landmarks)
    assert choose_face([ok], None, "ok.png") is ok
