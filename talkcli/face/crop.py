"""Pose-aware square crop around the face, and its inverse for paste-back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face import topology as topo


@dataclass(frozen=True)
class CropGeometry:
    """A similarity transform from photo pixels to a ``size`` x ``size`` crop.

    ``matrix`` is 2x3 (photo -> crop), ``inverse`` 2x3 (crop -> photo). The crop is
    rotated so the eyes lie level, centred on the face outline, and scaled so the
    face outline spans ``face_fraction`` of the side.
    """

    size: int
    matrix: np.ndarray
    inverse: np.ndarray
    photo_shape: tuple[int, int]  # (height, width) of the photo

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return float(np.hypot(self.matrix[0, 0], self.matrix[0, 1]))

    def to_crop(self, pts: np.ndarray) -> np.ndarray:
        """Map ``(N, 2+)`` photo points into the crop; a z column is scaled like x, y."""
        return _apply(self.matrix, pts, self.scale)

    def to_photo(self, pts: np.ndarray) -> np.ndarray:
        """Map ``(N, 2+)`` crop points back into the photo."""
        return _apply(self.inverse, pts, 1.0 / self.scale)

    def crop(self, photo: np.ndarray) -> np.ndarray:
        """The ``(size, size, 3) uint8`` crop of ``photo``; outside the photo the edge is replicated."""
        import cv2

        return cv2.warpAffine(
            photo, self.matrix, (self.size, self.size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )


def _apply(m: np.ndarray, pts: np.ndarray, zscale: float) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    out = pts.copy()
    out[:, :2] = pts[:, :2] @ m[:, :2].T + m[:, 2]
    if pts.shape[1] > 2:
        out[:, 2] = pts[:, 2] * zscale
    return out


def face_crop(landmarks: np.ndarray, photo_shape: tuple[int, int], size: int = 512, face_fraction: float = 0.6) -> CropGeometry:
    """The crop geometry for a face given its ``(478, 3)`` photo-pixel landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    eye_a = pts[topo.EYE_A_UPPER + topo.EYE_A_LOWER].mean(axis=0)
    eye_b = pts[topo.EYE_B_UPPER + topo.EYE_B_LOWER].mean(axis=0)
    dx, dy = eye_b - eye_a
    angle = np.arctan2(dy, dx)  # roll of the eye line
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    oval = pts[topo.FACE_OVAL] @ rot.T
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    extent = max(hi[0] - lo[0], hi[1] - lo[1])
    # The oval's bounding-box centre follows the face when the head is turned,
    # where the eye midpoint would not.
    centre = (lo + hi) / 2
    scale = face_fraction * size / max(extent, 1e-6)
    a = rot * scale
    t = np.array([size / 2, size / 2]) - scale * centre  # centre is already in the rotated frame
    matrix = np.hstack([a, t[:, None]])
    inv_a = np.linalg.inv(a)
    inverse = np.hstack([inv_a, (-inv_a @ t)[:, None]])
    return CropGeometry(size=size, matrix=matrix, inverse=inverse, photo_shape=tuple(photo_shape[:2]))
