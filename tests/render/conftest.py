"""Shared, expensive inputs for the render tests: the example face, cropped at the smoke size."""

from pathlib import Path

import pytest

from talkcli.face.crop import face_crop
from talkcli.face.detect import FaceLandmarker
from talkcli.face.image import load_image

EXAMPLE_FACE = Path(__file__).resolve().parents[2] / "examples" / "face.jpg"
CROP_SIZE = 256  # presets/smoke.toml


@pytest.fixture(scope="session")
def landmarker():
    with FaceLandmarker() as lm:
        yield lm


@pytest.fixture(scope="session")
def hopper_crop(landmarker):
    """(photo, geometry, crop (256, 256, 3) uint8, crop landmarks (478, 3) float64)."""
    photo = load_image(EXAMPLE_FACE)
    faces = landmarker.faces(photo)
    assert len(faces) == 1
    geometry = face_crop(faces[0].landmarks, photo.shape, CROP_SIZE)
    return photo, geometry, geometry.crop(photo), geometry.to_crop(faces[0].landmarks)


@pytest.fixture(scope="session")
def renderer(hopper_crop):
    from talkcli.render.frames import FrameRenderer

    _, _, crop, lm = hopper_crop
    return FrameRenderer(crop, lm)
