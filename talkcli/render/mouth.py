"""A basic mouth interior drawn where the lips part: dark cavity, upper and lower teeth, tongue.

Colours come from the reference face (lip and skin tones), so the cavity
matches the person's lighting rather than being a flat black hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face import topology as topo

SUB = 4  # sub-pixel bits for polygon filling
AA_SCALE = 1 << SUB


@dataclass(frozen=True)
class MouthColours:
    cavity: np.ndarray  # (3,) float32 RGB
    teeth: np.ndarray
    tongue: np.ndarray

    @classmethod
    def from_reference(cls, crop: np.ndarray, landmarks: np.ndarray) -> "MouthColours":
        """Sample lip and skin colour from the reference crop (``(S, S, 3) uint8`` RGB)."""
        import cv2

        mask = np.zeros(crop.shape[:2], dtype=np.uint8)
        outer = np.concatenate([landmarks[topo.LIPS_OUTER_UPPER, :2], landmarks[topo.LIPS_OUTER_LOWER[::-1], :2]])
        cv2.fillPoly(mask, [np.round(outer).astype(np.int32)], 255)
        lip = np.asarray(cv2.mean(crop, mask=mask)[:3], dtype=np.float32) if mask.any() else np.array([150, 80, 80], np.float32)
        luminance = float(lip @ np.array([0.299, 0.587, 0.114]))
        light = np.clip(luminance / 120.0, 0.6, 1.3)
        return cls(
            cavity=(lip * 0.22 + np.array([8, 2, 2])).astype(np.float32),
            teeth=(np.array([226, 219, 204], dtype=np.float32) * light).clip(0, 245),
            tongue=(lip * 0.75 + np.array([20, 0, 0])).clip(0, 255).astype(np.float32),
        )


def draw_mouth_interior(frame: np.ndarray, target: np.ndarray, jaw: float, colours: MouthColours, mouth_width: float,
                        strength: float = 1.0) -> None:
    """Paint the interior inside the target inner-lip contour of ``frame`` (in place).

    ``target``: ``(V, 2)`` target vertices (FaceMesh indices first), crop pixels.
    ``strength`` (0..1) scales the layer's opacity.
    """
    import cv2

    upper = target[topo.LIPS_INNER_UPPER]
    lower = target[topo.LIPS_INNER_LOWER]
    gap = float(np.max(lower[:, 1] - upper[:, 1]))
    if gap < 0.6:
        return
    poly = np.concatenate([upper, lower[::-1][1:-1]])
    x0 = int(np.floor(poly[:, 0].min())) - 2
    x1 = int(np.ceil(poly[:, 0].max())) + 3
    y0 = int(np.floor(poly[:, 1].min())) - 2
    y1 = int(np.ceil(poly[:, 1].max())) + 3
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 2:
        return
    rw, rh = x1 - x0, y1 - y0
    alpha = np.zeros((rh, rw), dtype=np.uint8)
    pts = np.round((poly - [x0, y0]) * AA_SCALE).astype(np.int32)
    cv2.fillPoly(alpha, [pts], 255, lineType=cv2.LINE_AA, shift=SUB)
    if not alpha.any():
        return

    # Per column of the region: where the upper and lower lips' inner edges are.
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5
    order_u = np.argsort(upper[:, 0])
    order_l = np.argsort(lower[:, 0])
    yu = np.interp(xs, upper[order_u, 0], upper[order_u, 1])[None, :]
    yl = np.interp(xs, lower[order_l, 0], lower[order_l, 1])[None, :]
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
    cx = float(upper[:, 0].mean())
    half = max(1.0, (upper[:, 0].max() - upper[:, 0].min()) / 2)
    across = np.clip(np.abs(xs - cx) / half, 0, 1)[None, :]  # 0 centre .. 1 corners

    layer = np.empty((rh, rw, 3), dtype=np.float32)
    # Cavity: darker towards the back (middle of the opening) and the corners.
    depth = 1.0 - 0.45 * np.exp(-(((ys - (yu + yl) / 2) / max(gap * 0.45, 1.0)) ** 2)) - 0.25 * across**2
    layer[:] = colours.cavity * depth[..., None]

    local_gap = np.maximum(yl - yu, 0.0)
    # Upper teeth hang from the upper lip; lower teeth show as the jaw opens.
    upper_h = np.minimum(0.085 * mouth_width, 0.55 * local_gap)
    lower_h = np.minimum(0.05 * mouth_width * np.clip(1.6 * jaw - 0.35, 0, 1), 0.3 * local_gap)
    width_fade = np.clip((0.78 - across) / 0.18, 0, 1)
    shade = (1.0 - 0.35 * across**1.5)[..., None]
    t_up = np.clip((yu + upper_h - ys) / 1.2, 0, 1) * (ys >= yu - 1) * width_fade
    t_lo = np.clip((ys - (yl - lower_h)) / 1.2, 0, 1) * (ys <= yl + 1) * width_fade
    tongue_c = yl - 0.22 * local_gap
    tongue = np.clip(1 - ((ys - tongue_c) / np.maximum(0.28 * local_gap, 1.0)) ** 2 - (across / 0.7) ** 2, 0, 1)
    tongue *= float(np.clip(gap / (0.12 * mouth_width) - 0.5, 0, 1))
    layer = layer * (1 - tongue[..., None] * 0.8) + colours.tongue * shade * (tongue[..., None] * 0.8)
    teeth = np.maximum(t_up, t_lo)[..., None]
    # Teeth in shadow under the upper lip: darker right at the lip line.
    lip_shadow = 1.0 - 0.3 * np.exp(-((ys - yu) / 1.5) ** 2)[..., None]
    layer = layer * (1 - teeth) + colours.teeth * shade * lip_shadow * teeth
    layer = cv2.GaussianBlur(layer, (3, 3), 0.7)

    a = (alpha.astype(np.float32) * (strength / 255.0))[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + layer * a, 0, 255).astype(np.uint8)
