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


def jaw_fade(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """``(H, W) float32``: 1 above the line where the head layer ends, 0 below it.

    Under the face the line follows the jaw: the head layer fades out over 0.02-0.08 face
    widths below the jaw outline, so a dropping chin covers the neck with a soft edge rather
    than dragging a band of stretched neck over the photo's own neck. Beside the jaw (hair,
    ears) it fades out later, 0.15 face widths below the chin, as the hair there moves with
    the head.
    """
    import cv2

    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    oval = pts[topo.FACE_OVAL]
    face_w = float(oval[:, 0].max() - oval[:, 0].min())
    chin_y = float(pts[topo.CHIN, 1])
    xs = np.arange(shape[1], dtype=np.float64)
    # The jaw line is the lowest point of the face outline in each column. (Interpolating the
    # outline's lower points in x order zigzags where a turned face's outline doubles back, and
    # cut spikes into the head layer through the chin.)
    outline = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(outline, [np.round(oval).astype(np.int32)], 1)
    cols = np.flatnonzero(outline.any(axis=0))
    if len(cols) == 0:  # the outline lies outside the image: its points still give the jaw
        low = oval[oval[:, 1] > oval[:, 1].mean()]
        order = np.argsort(low[:, 0])
        jaw_y = np.interp(xs, low[order, 0], low[order, 1])
    else:
        bottom = shape[0] - 1 - np.argmax(outline[::-1, cols], axis=0)
        jaw_y = np.interp(xs, cols.astype(np.float64), bottom.astype(np.float64))
    # Under the jaw (between the jaw angles), blending out to the chin-level fade beside it.
    x_a, x_b = sorted((float(pts[172, 0]), float(pts[397, 0])))
    under = 1.0 - _smoothstep(np.maximum(x_a - xs, xs - x_b) / (0.1 * face_w))
    start = under * (jaw_y + 0.02 * face_w) + (1 - under) * chin_y
    length = under * 0.06 * face_w + (1 - under) * 0.15 * face_w
    ys = np.arange(shape[0], dtype=np.float64)[:, None]
    fade = 1.0 - _smoothstep((ys - start[None, :]) / length[None, :])
    return fade.astype(np.float32)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def body_matte(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(H, W) float32``: the part of the person that stays still (neck, shoulders, collar)."""
    return (person * (1.0 - jaw_fade(person.shape, landmarks))).astype(np.float32)


def head_matte(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(H, W) float32``: the part of the person that moves with the head.

    ``person``: the person matte (zeros when there is none: then only the face
    outline moves). The union of the matte and the face outline, cut below the jaw
    (``jaw_fade``): the neck and collar belong to the still body layer and the dropping
    chin covers them.
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
    return (matte * jaw_fade(shape, landmarks)).astype(np.float32)
