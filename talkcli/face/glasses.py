"""Are there glasses? A strong horizontal edge across the bridge of the nose, between the eyes.

Bare skin between the inner eye corners is smooth; a glasses bridge (or the top
of the frames) crosses it as a long horizontal edge. The edge strength of the
strongest row there is compared with the texture of the cheek, so wrinkles and
skin detail do not count.
"""

from __future__ import annotations

import numpy as np

BRIDGE_TO_CHEEK = 1.4  # strongest bridge row / cheek texture above which frames are assumed
BRIDGE_PEAK = 2.5  # ... and that row must stand out from the other bridge rows by this factor


def glasses_score(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """Strength of a horizontal edge across the nose bridge relative to cheek texture (>= 0);
    ``rgb`` ``(H, W, 3) uint8`` and its ``(478, 2+)`` FaceMesh landmarks in the same pixels."""
    import cv2

    p = np.asarray(landmarks, np.float64)[:, :2]
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gy = np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    h, w = g.shape
    a, b = p[133], p[362]  # inner eye corners
    ew = float(np.linalg.norm(p[133] - p[33]))
    if ew < 3:
        return 0.0
    x0, x1 = int(a[0] + 0.2 * (b[0] - a[0])), int(b[0] - 0.2 * (b[0] - a[0]))
    yc = (a[1] + b[1]) / 2
    y0, y1 = int(max(0, yc - 0.6 * ew)), int(min(h, yc + 0.1 * ew))
    if x1 - x0 < 2 or y1 - y0 < 3:
        return 0.0
    rows = gy[y0:y1, max(0, x0):min(w, x1)].mean(axis=1)
    cx, cy = p[205]  # mid-cheek
    cheek = gy[int(max(0, cy - 0.3 * ew)):int(min(h, cy + 0.3 * ew)), int(max(0, cx - 0.3 * ew)):int(min(w, cx + 0.3 * ew))]
    if cheek.size == 0:
        return 0.0
    peak = float(rows.max())
    if peak < BRIDGE_PEAK * (float(np.median(rows)) + 1.0):
        return 0.0
    return peak / (float(np.percentile(cheek, 95)) + 1.0)


def has_glasses(rgb: np.ndarray, landmarks: np.ndarray) -> bool:
    """True when the photo most likely shows glasses (see ``glasses_score``)."""
    return glasses_score(rgb, landmarks) > BRIDGE_TO_CHEEK
