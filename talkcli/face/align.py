"""Bring another photo of the same person into a reference crop's frame: geometry and colour.

Extra reference photos (``--ref`` given more than once) supply what the first
photo lacks, such as teeth. They are aligned by a similarity transform fitted
on points that do not move with expression (eye corners, nose base), then
their colours are matched to the reference over the face.
"""

from __future__ import annotations

import numpy as np

from talkcli.face import topology as topo

RIGID_POINTS = [33, 133, 362, 263, 2, 98, 327, 168, 6, 195]  # eye corners, nose base and bridge


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(2, 3)`` least-squares similarity (rotation, uniform scale, shift) taking ``src`` to ``dst``."""
    s, d = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    sc, dc = s.mean(axis=0), d.mean(axis=0)
    a, b = s - sc, d - dc
    norm = max(float(np.sum(a * a)), 1e-12)
    c = float(np.sum(a * b)) / norm
    k = float(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])) / norm
    lin = np.array([[c, -k], [k, c]])
    return np.column_stack([lin, dc - lin @ sc])


def align_to(ref_crop: np.ndarray, ref_landmarks: np.ndarray, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (``(H, W, 3) uint8``, its ``(478, 2+)`` landmarks) resampled into the frame of
    ``ref_crop`` (same shape as the crop), with colours matched to it over the face; returns
    ``(aligned image, aligned landmarks (478, 2))``."""
    import cv2

    ref = np.asarray(ref_landmarks, np.float64)[:, :2]
    lm = np.asarray(landmarks, np.float64)[:, :2]
    m = similarity(lm[RIGID_POINTS], ref[RIGID_POINTS])
    h, w = ref_crop.shape[:2]
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = lm @ m[:, :2].T + m[:, 2]
    # Colour: per channel, match mean and spread of the cheeks and forehead (the face outline
    # without eyes and mouth is close enough: both photos are of the same face).
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(ref[topo.FACE_OVAL]).astype(np.int32)], 1)
    mask_o = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask_o, [np.round(moved[topo.FACE_OVAL]).astype(np.int32)], 1)
    a = ref_crop[mask > 0].astype(np.float64)
    b = out[mask_o > 0].astype(np.float64)
    if len(a) > 50 and len(b) > 50:
        gain = np.clip(a.std(axis=0) / np.maximum(b.std(axis=0), 1.0), 0.5, 2.0)
        out = np.clip((out - b.mean(axis=0)) * gain + a.mean(axis=0), 0, 255).astype(np.uint8)
    return out, moved
