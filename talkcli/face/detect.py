"""Find faces in the photo (MediaPipe face detection) and their 478 FaceMesh landmarks."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

from talkcli.errors import NoFaceError

# FaceMesh needs a face large enough in its 192x192 input; below this the landmarks are unreliable.
MIN_FACE_PIXELS = 24


@dataclass(frozen=True)
class Face:
    """One detected face. ``box`` is (x0, y0, x1, y1) in photo pixels; ``landmarks`` is
    ``(478, 3) float32``: x, y in photo pixels and z (depth, same scale as x, smaller is nearer)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _quiet_native_logs():
    """mediapipe's C++ side writes absl/glog lines to fd 2; keep them out of the user's terminal."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        _flush_c_stdio()  # native logs buffered by C stdio must land in /dev/null, not after the restore
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class FaceLandmarker:
    """Face detection + FaceMesh on still images; the models load once per instance.

    Both models ship inside the mediapipe 0.10.21 wheel; nothing is downloaded.
    """

    def __init__(self) -> None:
        with _quiet_native_logs():
            import mediapipe as mp

            self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
            )
            self._mesh_multi = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=8, refine_landmarks=True, min_detection_confidence=0.5
            )

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()
        self._mesh_multi.close()

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _mesh_on(self, rgb: np.ndarray, mesh) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        with _quiet_native_logs():
            result = mesh.process(np.ascontiguousarray(rgb))
        out = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float32)
            out.append(pts)
        return out

    def landmarks_in_box(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        """FaceMesh on a square window around ``box``, mapped back to photo pixels."""
        import cv2

        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = 2.0 * max(x1 - x0, y1 - y0)
        # Resample the window to a fixed size: small faces get upscaled, huge ones shrink.
        target = 384
        scale = target / side
        m = np.array([[scale, 0, target / 2 - scale * cx], [0, scale, target / 2 - scale * cy]], dtype=np.float64)
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        window = cv2.warpAffine(rgb, m, (target, target), flags=interp, borderMode=cv2.BORDER_REPLICATE)
        found = self._mesh_on(window, self._mesh)
        if not found:
            return None
        pts = found[0]
        pts[:, 0] = (pts[:, 0] - m[0, 2]) / scale
        pts[:, 1] = (pts[:, 1] - m[1, 2]) / scale
        pts[:, 2] = pts[:, 2] / scale
        return pts

    def faces(self, rgb: np.ndarray) -> list[Face]:
        """All faces with landmarks, largest first."""
        h, w = rgb.shape[:2]
        with _quiet_native_logs():
            detections = self._detector.process(np.ascontiguousarray(rgb)).detections or []
        faces: list[Face] = []
        for det in detections:
            rb = det.location_data.relative_bounding_box
            box = (rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h)
            pts = self.landmarks_in_box(rgb, box)
            if pts is not None:
                faces.append(Face(box=_box_of(pts), score=float(det.score[0]), landmarks=pts))
        if not faces:
            # The detector misses some faces FaceMesh's own detector finds (very close-up photos).
            for pts in self._mesh_on(rgb, self._mesh_multi):
                faces.append(Face(box=_box_of(pts), score=0.5, landmarks=pts))
        faces = _drop_duplicates(faces)
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces


def _box_of(pts: np.ndarray) -> tuple[float, float, float, float]:
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


def _drop_duplicates(faces: list[Face]) -> list[Face]:
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: f.score, reverse=True):
        if all(_iou(f.box, k.box) < 0.5 for k in kept):
            kept.append(f)
    return kept


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def choose_face(faces: list[Face], face_index: int | None, source: str) -> Face:
    """The face to animate: ``face_index`` (0 = largest) or the largest."""
    if not faces:
        raise NoFaceError(f"no face found in {source}", hint="use a photo with one clearly visible, roughly frontal face")
    index = 0 if face_index is None else face_index
    if index < 0 or index >= len(faces):
        raise NoFaceError(
            f"--face-index {index} asked for, but {source} has {len(faces)} face(s)",
            hint=f"use --face-index 0..{len(faces) - 1} (0 is the largest)",
        )
    face = faces[index]
    x0, y0, x1, y1 = face.box
    if min(x1 - x0, y1 - y0) < MIN_FACE_PIXELS:
        raise NoFaceError(
            f"the face in {source} is too small ({x1 - x0:.0f}x{y1 - y0:.0f} px)",
            hint=f"use a photo where the face is at least {MIN_FACE_PIXELS} pixels across",
        )
    return face
