"""Where the person is: a soft matte from MediaPipe selfie segmentation (shipped in the wheel).

The renderer moves only what lies inside the head's matte; everything else is
the photo's background, held still.
"""

from __future__ import annotations

import numpy as np

from talkcli.face import topology as topo


def person_matte(rgb: np.ndarray) -> np.ndarray | None:
    """``(H, W) float32`` in 0..1, 1 on the person, for an ``(H, W, 3) uint8`` RGB image;
    None when the segmentation model is not available."""
    from talkcli.face.detect import _quiet_native_logs

    try:
        with _quiet_native_logs():
            import mediapipe as mp

            with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
                result = seg.process(np.ascontiguousarray(rgb))
    except (ImportError, RuntimeError, AttributeError):
        return None
    mask = result.segmentation_mask
    if mask is None:
        return None
    return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)


def head_matte(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(H, W) float32``: the part of the person that moves with the head.

    ``person``: the person matte (zeros when there is none: then only the face
    outline moves). The union of the matte and the face outline is kept down to the chin and fades out over the
    following 0.15 face widths, so the neck and collar below belong to the
    still body layer and the dropping chin covers them.
    """
    import cv2

    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    oval = pts[topo.FACE_OVAL]
    face_w = float(oval[:, 0].max() - oval[:, 0].min())
    shape = person.shape
    face = np.zeros(shape, dtype=np.uint8)
    centre = oval.mean(axis=0)
    grown = centre + (oval - centre) * 1.08
    cv2.fillPoly(face, [np.round(grown).astype(np.int32)], 255)
    face_f = cv2.GaussianBlur(face.astype(np.float32) / 255.0, (0, 0), max(1.0, 0.01 * face_w))
    matte = np.maximum(person, face_f)
    chin_y = float(pts[topo.CHIN, 1])
    ys = np.arange(shape[0], dtype=np.float32)[:, None]
    t = np.clip((ys - chin_y) / (0.15 * face_w), 0.0, 1.0)
    fade = 1.0 - t * t * (3 - 2 * t)
    return (matte * fade).astype(np.float32)
