"""Eyelids and gaze drawn over the warped frame.

Blink: the mesh brings the upper lid margin down, but the warp alone squeezes
the lashes, the liner and the eye itself into a seam. The lid layer covers
what the upper lid has swept over with lid skin: the skin just above the
covered band, sampled from the photo and continued downward (mirrored, so it
joins the skin above without an edge), shaded toward the lid edge, with a soft
lash line along the edge in the colour of the photo's own lashes.

Gaze: inside the eye opening the frame is resampled with a small offset that
is largest at the iris and zero at the lids, so the iris drifts and the lids
and skin stay put.
"""

from __future__ import annotations

import numpy as np

from talkcli.face import topology as topo

LASH_BAND = 0.14  # the lid layer also covers this much (eye widths) above the swept band: lashes and liner
LASH_WIDTH = 0.025  # lash line half-width, eye widths
MIRROR_RATE = 0.45  # source rows climbed per layer row (lid skin continued from the skin above)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class EyeLayer:
    """Lid and gaze drawing for the two eyes of one reference crop."""

    def __init__(self, crop: np.ndarray, landmarks: np.ndarray) -> None:
        import cv2

        self.crop = crop
        p = np.asarray(landmarks, np.float64)[:, :2]
        self.eyes = []
        for upper, lower in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
            up, lo = np.asarray(upper), np.asarray(lower)
            ew = float(np.linalg.norm(p[up[-1]] - p[up[0]]))
            gap = np.maximum(p[lo, 1] - p[up, 1], 0.0)  # chains pair up position by position
            # Lash colour: the darkest pixels along the upper margin (lashes, liner).
            mask = np.zeros(crop.shape[:2], np.uint8)
            band = np.concatenate([p[up] - [0, 0.08 * ew], (p[up] + [0, 0.03 * ew])[::-1]])
            cv2.fillPoly(mask, [np.round(band).astype(np.int32)], 255)
            px = crop[mask > 0].astype(np.float32)
            if len(px) >= 5:
                lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
                lash = px[lum <= np.percentile(lum, 15)].mean(axis=0)
            else:
                lash = np.array([40, 30, 28], np.float32)
            self.eyes.append({"upper": up, "lower": lo, "ew": ew, "gap": gap, "lash": lash.astype(np.float32)})

    def draw_lids(self, frame: np.ndarray, target: np.ndarray, blink: float, map_x: np.ndarray, map_y: np.ndarray) -> None:
        """Cover what the upper lids swept over with lid skin (in place); ``map_x``, ``map_y`` are
        the frame's backward map into the reference crop."""
        import cv2

        s = float(_smoothstep(blink / 0.35))
        if s <= 0:
            return
        h, w = frame.shape[:2]
        for eye in self.eyes:
            up = target[eye["upper"]]
            ew = eye["ew"]
            order = np.argsort(up[:, 0])
            x0 = max(0, int(np.floor(up[:, 0].min())) - 1)
            x1 = min(w, int(np.ceil(up[:, 0].max())) + 2)
            if x1 - x0 < 3:
                continue
            xs = np.arange(x0, x1, dtype=np.float64)
            edge = np.interp(xs, up[order, 0], up[order, 1])
            across = np.clip((xs - up[:, 0].min()) / max(np.ptp(up[:, 0]), 1e-6), 0, 1)
            profile = np.sin(np.pi * across)
            swept = blink * 0.85 * np.interp(xs, up[order, 0], eye["gap"][order])
            height = swept + LASH_BAND * ew * profile**0.5
            top = edge - height
            y0 = max(0, int(np.floor(top.min())) - 1)
            y1 = min(h, int(np.ceil(edge.max() + 3 * LASH_WIDTH * ew)) + 2)
            if y1 - y0 < 2:
                continue
            ys = np.arange(y0, y1, dtype=np.float64)[:, None]
            t = edge[None, :] - ys  # distance above the lid edge
            H = np.maximum(height, 1e-3)[None, :]
            alpha = np.clip(t + 2.0, 0, 1) * (1 - _smoothstep((t - 0.35 * H) / (0.65 * H))) * (height > 0.3)[None, :]
            # Lid skin (down to 1.5 px past the edge, over the lower lid margin): the photo's skin
            # just above the covered band, continued downward.
            ti = np.clip(np.round(top).astype(int), 0, h - 1)
            sx = map_x[ti, np.arange(x0, x1)].astype(np.float64)
            sy = map_y[ti, np.arange(x0, x1)].astype(np.float64)
            src_x = np.broadcast_to(sx[None, :], alpha.shape).astype(np.float32)
            src_y = (sy[None, :] - MIRROR_RATE * np.maximum(ys - top[None, :], 0)).astype(np.float32)
            lid = cv2.remap(self.crop, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            # Rounded over the eyeball: a touch darker toward the edge, where the lid turns under.
            shade = 1.0 - 0.2 * np.clip(1 - t / H, 0, 1) ** 2
            lid *= shade[..., None]
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            a = (alpha * s)[..., None]
            roi += a * (lid - roi)
            # Lash line along the lid edge, a little denser in the middle of the eye.
            lw = LASH_WIDTH * ew + 0.5
            lash_a = np.exp(-((t / lw) ** 2)) * (0.4 + 0.35 * profile[None, :]) * (t > -2.5 * lw) * s
            roi += lash_a[..., None] * (eye["lash"] - roi)
            frame[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)

    def covered(self, target: np.ndarray, blink: float, gazing: bool) -> list[np.ndarray]:
        """Polygons (crop pixels) that ``draw_lids`` and ``shift_gaze`` may paint for a frame."""
        out = []
        for eye in self.eyes:
            up, lo = target[eye["upper"]], target[eye["lower"]]
            if blink > 0:
                lift = blink * 0.85 * eye["gap"] + LASH_BAND * eye["ew"]
                out.append(np.concatenate([up - np.column_stack([np.zeros(len(up)), lift]), (lo + [0, 2.0])[::-1]]))
            elif gazing:
                out.append(np.concatenate([up, lo[::-1]]))
        return out

    def shift_gaze(self, frame: np.ndarray, target: np.ndarray, offset: np.ndarray) -> None:
        """Move the irises by ``offset`` ``(2,)`` eye widths (x right, y down) inside the eye
        openings of ``frame`` (in place); the lids and skin do not move."""
        import cv2

        offset = np.asarray(offset, np.float64)
        if not np.any(offset):
            return
        h, w = frame.shape[:2]
        for eye in self.eyes:
            up, lo = target[eye["upper"]], target[eye["lower"]]
            d = offset * eye["ew"]
            x0 = max(0, int(np.floor(up[:, 0].min())) - 1)
            x1 = min(w, int(np.ceil(up[:, 0].max())) + 2)
            y0 = max(0, int(np.floor(up[:, 1].min())) - 1)
            y1 = min(h, int(np.ceil(lo[:, 1].max())) + 2)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            xs = np.arange(x0, x1, dtype=np.float64)
            ou, ol = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
            yu = np.interp(xs, up[ou, 0], up[ou, 1])[None, :]
            yl = np.interp(xs, lo[ol, 0], lo[ol, 1])[None, :]
            ys = np.arange(y0, y1, dtype=np.float64)[:, None]
            across = np.clip((xs - up[:, 0].min()) / max(np.ptp(up[:, 0]), 1e-6), 0, 1)[None, :]
            v = np.clip((ys - yu) / np.maximum(yl - yu, 1e-3), 0, 1)
            weight = np.sin(np.pi * v) ** 0.7 * np.sin(np.pi * across) ** 0.7 * (yl - yu > 1.0)
            gx, gy = np.meshgrid(xs - x0, ys[:, 0] - y0)
            roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
            out = cv2.remap(roi, (gx - weight * d[0]).astype(np.float32), (gy - weight * d[1]).astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            frame[y0:y1, x0:x1] = out
