"""Shared, expensive inputs for the face tests: the example photo and one FaceLandmarker."""

from pathlib import Path

import pytest

from talkcli.face.detect import FaceLandmarker
from talkcli.face.image import load_image

EXAMPLE_FACE = Path(__file__).resolve().parents[2] / "examples" / "face.jpg"


@pytest.fixture(scope="session")
def example_path() -> Path:
    return EXAMPLE_FACE


@pytest.fixture(scope="session")
def photo():
    return load_image(EXAMPLE_FACE)


@pytest.fixture(scope="session")
def landmarker():
    with FaceLandmarker() as lm:
        yield lm


@pytest.fixture(scope="session")
def hopper(photo, landmarker):
    """The one face of examples/face.jpg (detected once per session)."""
    faces = landmarker.faces(photo)
    assert len(faces) == 1
    return faces[0]
