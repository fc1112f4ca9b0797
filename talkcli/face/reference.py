"""The reference photo(s) of a render: read, the face found and cropped (pipeline stage 1, face)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcli.config.settings import FaceSettings
from talkcli.face.crop import CropGeometry


@dataclass(frozen=True)
class ReferenceFace:
    """The animated face: ``photo`` ``(H, W, 3) uint8`` RGB, its crop ``(S, S, 3) uint8`` with
    ``geometry`` (photo <-> crop) and ``crop_landmarks`` ``(478, 3)`` in crop pixels;
    ``extra``: other photos of the same person cropped the same way, ``(crop, landmarks)``;
    ``faces``: every face found in ``photo`` (``face.detect.Face``), ``index`` the animated one's;
    ``source_size``: (width, height) of the photo as read, before any downscale."""

    photo: np.ndarray
    geometry: CropGeometry
    crop: np.ndarray
    crop_landmarks: np.ndarray
    extra: tuple[tuple[np.ndarray, np.ndarray], ...]
    faces: tuple
    index: int
    source_size: tuple[int, int]

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    @property
    def face(self):
        """The animated ``Face``."""
        return self.faces[self.index]


def read_reference(ref: Path, extra_refs: tuple[Path, ...], settings: FaceSettings, landmarker,
                   warn=lambda message: None, full_frame: bool = False, max_size: int = 0) -> ReferenceFace:
    """Read ``ref``, choose its face (``settings.face_index``), crop it; the same for ``extra_refs``.

    A photo whose long side exceeds ``max_size`` (0: no limit) is downscaled to it once, here.
    ``full_frame``: the photo itself becomes the video, so it must fit H.264 (ImageError if
    not). ``warn(message)`` hears that a photo holds several faces.
    """
    from talkcli.face.crop import face_crop
    from talkcli.face.detect import choose_face
    from talkcli.face.image import check_full_frame_size, fit_long_side, load_image

    photo = load_image(ref)
    source_size = (photo.shape[1], photo.shape[0])
    photo = fit_long_side(photo, max_size)
    if full_frame:
        check_full_frame_size(photo.shape, ref)
    faces = landmarker.faces(photo)
    face = choose_face(faces, settings.face_index, str(ref))
    if len(faces) > 1:
        warn(f"{len(faces)} faces found in {Path(ref).name}; animating face {settings.face_index or 0} (0 = largest; see --face-index)")
    size = settings.size
    geometry = face_crop(face.landmarks, photo.shape, size, settings.face_fraction)
    extra = []  # other photos of the same person, cropped the same way: teeth, mouth interior
    for other in extra_refs:
        image = load_image(other)
        other_face = choose_face(landmarker.faces(image), 0, str(other))
        g = face_crop(other_face.landmarks, image.shape, size, settings.face_fraction)
        extra.append((g.crop(image), g.to_crop(other_face.landmarks)))
    return ReferenceFace(photo, geometry, geometry.crop(photo), geometry.to_crop(face.landmarks), tuple(extra),
                         tuple(faces), settings.face_index or 0, source_size)  # fmt: skip
