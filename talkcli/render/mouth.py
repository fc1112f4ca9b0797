"""The mouth interior in 2.5D: cavity, tongue, lower and upper teeth arches, drawn behind the lips.

Each layer is a texture in the reference crop's own coordinates, built once
per reference: the upper teeth are fixed to the skull (they follow the head's
rigid motion only), the lower teeth and the tongue to the jaw (rigid motion
plus the chin's drop). A frame samples the textures through those two affines
and composites them back to front (cavity, tongue, lower teeth, upper teeth)
inside the target inner-lip contour, shaded under the upper lip and toward
the corners. Colours come from the face: the teeth from the whites of the
eyes (the scene's own white under its own light), the cavity and tongue from
the lips. When a photo shows teeth, the arches are that photo's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face import topology as topo

SUB = 4  # sub-pixel bits for polygon filling
AA_SCALE = 1 << SUB
ARCH_HALF_ANGLE = np.radians(70.0)  # the visible arch spans +-70 degrees about the incisors
# Share of the visible half-arch taken by each tooth, incisors first (central, lateral, canine,
# two premolars, first molar); the lower incisors are narrower.
UPPER_TEETH = (0.24, 0.18, 0.18, 0.2, 0.2)
LOWER_TEETH = (0.17, 0.16, 0.18, 0.2, 0.29)
UPPER_EDGE = 0.05  # upper incisal edge below the photo's upper inner lip, in mouth widths
LOWER_EDGE = -0.01  # lower incisal edge relative to the photo's lower inner lip (behind the upper teeth)
TONGUE_TOP = 0.0  # top of the tongue below the photo's lower inner lip at the centre, in mouth widths
JAW_SHARE_TONGUE = 0.6  # the tongue drops a little less than the jaw, so it shows as the mouth opens


@dataclass(frozen=True)
class MouthColours:
    cavity: np.ndarray  # (3,) float32 RGB
    teeth: np.ndarray
    tongue: np.ndarray

    @classmethod
    def from_reference(cls, crop: np.ndarray, landmarks: np.ndarray) -> "MouthColours":
        """Lip colour and the scene's white from the reference crop (``(S, S, 3) uint8`` RGB)."""
        import cv2

        lip = _polygon_mean(crop, np.concatenate([landmarks[topo.LIPS_OUTER_UPPER, :2],
                                                  landmarks[topo.LIPS_OUTER_LOWER[::-1], :2]]))
        if lip is None:
            lip = np.array([150, 80, 80], np.float32)
        # The whites of the eyes: the brightest quarter of each eye opening (the iris is darker).
        whites = []
        for up, lo in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
            mask = np.zeros(crop.shape[:2], np.uint8)
            cv2.fillPoly(mask, [np.round(np.concatenate([landmarks[up, :2], landmarks[lo[::-1], :2]])).astype(np.int32)], 255)
            mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
            px = crop[mask > 0].astype(np.float32)
            if len(px) >= 12:
                lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
                whites.append(px[lum >= np.percentile(lum, 75)])
        skin = _polygon_mean(crop, landmarks[topo.FACE_OVAL, :2])
        skin_lum = float(skin @ np.array([0.299, 0.587, 0.114])) if skin is not None else 150.0
        ivory = np.array([1.0, 0.96, 0.88])
        if whites:
            # The whites of the eyes give the scene's white balance; half their tint is kept.
            white = np.concatenate(whites).mean(axis=0)
            tint = white / max(float(white.mean()), 1.0)
            colour = ivory * (0.5 + 0.5 * tint)
        else:
            colour = ivory
        # Teeth are about as bright as the lit skin, a little brighter on dark skin.
        lum = float(np.clip(max(1.05 * skin_lum, 150.0), 0, 225))
        white = colour * lum / float(colour @ np.array([0.299, 0.587, 0.114]))
        return cls(
            cavity=(lip * 0.22 + np.array([8, 2, 2])).astype(np.float32),
            teeth=np.clip(white, 60, 240).astype(np.float32),
            tongue=np.clip(lip * np.array([0.8, 0.62, 0.64]) + np.array([25, 0, 0]), 0, 255).astype(np.float32),
        )


def _polygon_mean(img: np.ndarray, poly: np.ndarray) -> np.ndarray | None:
    import cv2

    mask = np.zeros(img.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    if not mask.any():
        return None
    return np.asarray(cv2.mean(img, mask=mask)[:3], dtype=np.float32)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _arch(u: np.ndarray, widths: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tooth layout along a round arch seen from the front, for ``u`` (-1..1 across the mouth).

    Returns (position along the half-arch 0..1, fraction across the tooth 0..1, tooth width in
    units of the half-mouth): side teeth are foreshortened as the arch turns away.
    """
    theta = np.arcsin(np.clip(u, -1, 1) * np.sin(ARCH_HALF_ANGLE))
    s = np.abs(theta) / ARCH_HALF_ANGLE
    bounds = np.concatenate([[0.0], np.cumsum(widths) / np.sum(widths)])
    k = np.clip(np.searchsorted(bounds, s, side="right") - 1, 0, len(widths) - 1)
    w = bounds[k + 1] - bounds[k]
    f = (s - bounds[k]) / w
    du_ds = ARCH_HALF_ANGLE * np.cos(theta) / np.sin(ARCH_HALF_ANGLE)
    return s, f, w * du_ds


class MouthModel:
    """Textures of one reference's mouth interior and how to draw them into a frame."""

    def __init__(self, crop: np.ndarray, landmarks: np.ndarray, teeth_source: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``crop``: ``(S, S, 3) uint8`` reference crop; ``landmarks``: its ``(478, 2+)`` crop points.

        ``teeth_source``: ``(image, landmarks)`` of another photo of the same person, already
        aligned to this crop (same crop geometry), whose teeth are used when this photo shows none.
        """
        import cv2

        lm = np.asarray(landmarks, np.float64)[:, :2]
        self.colours = MouthColours.from_reference(crop, lm)
        size = crop.shape[0]
        a, b = lm[topo.MOUTH_CORNERS[0]], lm[topo.MOUTH_CORNERS[1]]
        self.width = W = float(np.linalg.norm(b - a))
        up, lo = lm[topo.LIPS_INNER_UPPER], lm[topo.LIPS_INNER_LOWER]
        ix0, ix1 = float(min(up[:, 0].min(), lo[:, 0].min())), float(max(up[:, 0].max(), lo[:, 0].max()))
        icx, hw = (ix0 + ix1) / 2, max((ix1 - ix0) / 2, 1.0)
        x0 = int(max(0, np.floor(icx - 0.8 * W)))
        x1 = int(min(size, np.ceil(icx + 0.8 * W)))
        y0 = int(max(0, np.floor(up[:, 1].min() - 0.35 * W)))
        y1 = int(min(size, np.ceil(lo[:, 1].max() + 0.5 * W)))
        self.origin = np.array([x0, y0], np.float64)
        X, Y = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        ou, ol = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
        yu = np.interp(X[0], up[ou, 0], up[ou, 1])
        yl = np.interp(X[0], lo[ol, 0], lo[ol, 1])
        yu_, yl_ = yu[None, :], yl[None, :]
        u = ((X - icx) / hw)
        side = _smoothstep((1.02 - np.abs(u)) / 0.12)  # the arches end at the mouth corners
        teeth = self.colours.teeth

        # Upper arch: incisal edge a little below the rest lip line, curving up toward the corners.
        s, f, wt = _arch(u, UPPER_TEETH)
        tooth_px = wt * hw
        bump = np.sin(np.pi * f)
        tooth = np.clip(np.searchsorted(np.cumsum(UPPER_TEETH) / np.sum(UPPER_TEETH), s), 0, 9) * np.sign(u)
        vary = 1 + 0.04 * np.sin(7.3 * tooth + 1.1)  # each tooth a shade different (fixed, not random)
        edge = yu_ + W * (UPPER_EDGE - 0.035 * u**2) - 0.012 * W * (1 - bump**0.35) * (1 - 0.5 * s)
        a_up = np.clip(edge - Y + 0.5, 0, 1) * side
        embrasure = np.exp(-((np.minimum(f, 1 - f) * tooth_px) / 0.6) ** 2)
        near_edge = np.clip((edge - Y) / (0.025 * W), 0, 1)
        # Soft separations between teeth, clearest at the incisal edge (no dark grille).
        shade = (0.86 + 0.14 * bump**0.7) * (1 - 0.6 * s**1.5) * (1 - 0.16 * embrasure * (0.3 + 0.7 * (1 - near_edge)))
        shade *= (0.88 + 0.12 * near_edge) * vary  # the incisal edge is translucent: a shade darker
        gloss = 0.09 * np.exp(-(((Y - (edge - 0.08 * W)) / (0.035 * W)) ** 2)) * bump * (1 - s)
        up_rgb = teeth * shade[..., None] + 255.0 * gloss[..., None]
        # Lower arch (jaw): narrower teeth, edge tucked behind the upper teeth at rest, in shadow.
        s, f, wt = _arch(u, LOWER_TEETH)
        tooth_px = wt * hw
        bump = np.sin(np.pi * f)
        edge_lo = yl_ + W * (LOWER_EDGE - 0.03 * u**2) + 0.008 * W * (1 - bump**0.35)
        a_lo = np.clip(Y - edge_lo + 0.5, 0, 1) * side
        embrasure = np.exp(-((np.minimum(f, 1 - f) * tooth_px) / 0.5) ** 2)
        shade = 0.78 * (0.86 + 0.14 * bump**0.7) * (1 - 0.6 * s**1.5) * (1 - 0.16 * embrasure)
        shade *= 1 - 0.35 * np.clip((Y - edge_lo) / (0.1 * W), 0, 1)  # darker down toward the gum
        lo_rgb = teeth * shade[..., None]
        # Tongue (jaw): a dome behind the lower teeth, lit on top, a groove down the middle.
        top = yl_ + W * (TONGUE_TOP + 0.12 * u**2)
        a_tg = np.clip((Y - top) / 1.5, 0, 1) * _smoothstep((0.95 - np.abs(u)) / 0.2)
        depth = np.clip((Y - top) / (0.07 * W), 0, 1)
        shade = (0.62 + 0.38 * depth) * (1 - 0.12 * np.exp(-((u / 0.08) ** 2))) * (1 - 0.3 * np.abs(u))
        tg_rgb = self.colours.tongue * shade[..., None] + 255.0 * (0.05 * np.exp(-(((Y - top - 0.03 * W) / (0.02 * W)) ** 2)) * (1 - np.abs(u)))[..., None]

        # Match the photo's own sharpness: an upscaled or soft photo gets a softer interior.
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
        fine = float(np.std(gray - cv2.GaussianBlur(gray, (0, 0), 0.7)))
        coarse = float(np.std(gray - cv2.GaussianBlur(gray, (0, 0), 3.0)))
        detail = fine / max(coarse, 1e-6)  # ~0.1 on soft, upscaled photos; 0.3-0.5 on sharp ones
        self.softness = 0.6 + 2.0 * float(np.clip((0.25 - detail) / 0.15, 0, 1)) * size / 512
        self.photo_teeth = False  # the arches come from a photo (this one or teeth_source)
        src = None
        if _shows_teeth(crop, lm, self.colours):
            src = (crop, lm)
        elif teeth_source is not None:
            src = teeth_source
        if src is not None:
            up_rgb, a_up, lo_rgb, a_lo = _photo_arches(src[0], np.asarray(src[1], np.float64)[:, :2], X, Y,
                                                       (up_rgb, a_up, lo_rgb, a_lo))
            self.photo_teeth = True
        self._up = np.ascontiguousarray(np.dstack([up_rgb, a_up]).astype(np.float32))
        self._lo = np.ascontiguousarray(np.dstack([lo_rgb, a_lo]).astype(np.float32))
        self._tg = np.ascontiguousarray(np.dstack([tg_rgb, a_tg]).astype(np.float32))

    def draw(self, frame: np.ndarray, target: np.ndarray, skull: np.ndarray, jaw: np.ndarray, strength: float = 1.0) -> None:
        """Paint the interior inside the target inner-lip contour of ``frame`` (in place).

        ``target``: ``(V, 2)`` target vertices (FaceMesh indices first), crop pixels;
        ``skull``: ``(2, 3)`` affine (reference crop -> frame) of the upper teeth; ``jaw``: ``(2,)``
        the jaw's drop on top of it (pixels), carrying the lower teeth and the tongue. ``strength`` (0..1) scales the layer's opacity.
        """
        import cv2

        upper = target[topo.LIPS_INNER_UPPER]
        lower = target[topo.LIPS_INNER_LOWER]
        gap = float(np.max(lower[:, 1] - upper[:, 1]))
        if gap < 0.3 or strength <= 0:
            return
        poly = np.concatenate([upper, lower[::-1][1:-1]])
        h, w = frame.shape[:2]
        x0 = max(0, int(np.floor(poly[:, 0].min())) - 2)
        x1 = min(w, int(np.ceil(poly[:, 0].max())) + 3)
        y0 = max(0, int(np.floor(poly[:, 1].min())) - 2)
        y1 = min(h, int(np.ceil(poly[:, 1].max())) + 3)
        if x1 - x0 < 3 or y1 - y0 < 2:
            return
        rw, rh = x1 - x0, y1 - y0
        alpha = np.zeros((rh, rw), dtype=np.uint8)
        cv2.fillPoly(alpha, [np.round((poly - [x0, y0]) * AA_SCALE).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=SUB)
        if not alpha.any():
            return

        xs = np.arange(x0, x1, dtype=np.float32) + 0.5
        ou, ol = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
        yu = np.interp(xs, upper[ou, 0], upper[ou, 1])[None, :]
        yl = np.interp(xs, lower[ol, 0], lower[ol, 1])[None, :]
        ys = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
        cx = float(upper[:, 0].mean())
        half = max(1.0, (upper[:, 0].max() - upper[:, 0].min()) / 2)
        across = np.clip(np.abs(xs - cx) / half, 0, 1)[None, :]
        W = self.width
        # Cavity: darker toward the back of the opening and the corners.
        depth = 1.0 - 0.45 * np.exp(-(((ys - (yu + yl) / 2) / max(gap * 0.45, 1.0)) ** 2)) - 0.25 * across**2
        layer = np.empty((rh, rw, 3), np.float32)
        layer[:] = self.colours.cavity
        layer *= depth[..., None]
        jaw = np.asarray(jaw, np.float64)
        for tex, drop in ((self._tg, JAW_SHARE_TONGUE * jaw), (self._lo, jaw), (self._up, 0.0 * jaw)):
            mm = np.asarray(skull, np.float64).copy()
            mm[:, 2] += drop
            mm[:, 2] += mm[:, :2] @ self.origin - (x0, y0)
            t = cv2.warpAffine(tex, mm, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            a = t[..., 3:4]
            layer += a * (t[..., :3] - layer)
        # Shadow: under the upper lip, above the lower lip, and in the corners.
        occl = (1.0 - 0.3 * np.exp(-np.maximum(ys - yu, 0) / (0.02 * W + 0.5))
                - 0.2 * np.exp(-np.maximum(yl - ys, 0) / (0.015 * W + 0.5))) * (1.0 - 0.45 * across**3)
        layer *= np.clip(occl, 0.25, 1.0)[..., None]
        layer = cv2.GaussianBlur(layer, (0, 0), self.softness)
        a = (alpha.astype(np.float32) * (strength / 255.0))[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi + a * (layer - roi) + 0.5, 0, 255).astype(np.uint8)


def photo_shows_teeth(crop: np.ndarray, landmarks: np.ndarray) -> bool:
    """True when the photo's mouth is open on visible teeth (``(S, S, 3) uint8`` crop and its
    ``(478, 2+)`` landmarks)."""
    lm = np.asarray(landmarks, np.float64)[:, :2]
    return _shows_teeth(crop, lm, MouthColours.from_reference(crop, lm))


def _shows_teeth(crop: np.ndarray, lm: np.ndarray, colours: MouthColours) -> bool:
    """True when the photo's inner-lip opening is wide enough and mostly bright, unsaturated
    pixels (teeth) rather than a dark gap."""
    import cv2

    from talkcli.face.expression import estimate_expression

    if not estimate_expression(lm).teeth_visible:
        return False
    mask = np.zeros(crop.shape[:2], np.uint8)
    poly = np.concatenate([lm[topo.LIPS_INNER_UPPER], lm[topo.LIPS_INNER_LOWER[::-1]]])
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    px = crop[mask > 0].astype(np.float32)
    if len(px) < 20:
        return False
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = px.max(axis=1) - px.min(axis=1)
    teeth_lum = float(colours.teeth @ np.array([0.299, 0.587, 0.114]))
    like = (lum > 0.55 * teeth_lum) & (sat < 0.45 * np.maximum(lum, 1))
    return float(like.mean()) > 0.3


def _photo_arches(img: np.ndarray, lm: np.ndarray, X: np.ndarray, Y: np.ndarray, synthetic):
    """Upper and lower arch textures cut from a photo that shows teeth: above the darkest line
    of the opening (where the upper and lower teeth meet) the upper arch, below it the lower.
    Rows beyond the photo's own lips repeat the last row of teeth inside them, so a lip that
    moves away uncovers teeth, not lip."""
    import cv2

    up, lo = lm[topo.LIPS_INNER_UPPER], lm[topo.LIPS_INNER_LOWER]
    ou, ol = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
    xs = X[0]
    yu = np.interp(xs, up[ou, 0], up[ou, 1])
    yl = np.interp(xs, lo[ol, 0], lo[ol, 1])
    inside = (xs > up[:, 0].min() + 1) & (xs < up[:, 0].max() - 1) & (yl - yu > 2.0)
    gray = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), (3, 3), 0.8)
    h, w = gray.shape
    cols = np.clip(np.round(xs).astype(int), 0, w - 1)
    split = yl.copy()
    for j in np.flatnonzero(inside):
        r0, r1 = int(np.ceil(yu[j] + 0.4 * (yl[j] - yu[j]))), int(np.floor(yl[j] - 1))
        if r1 - r0 < 2:
            continue
        colv = gray[np.clip(np.arange(r0, r1 + 1), 0, h - 1), cols[j]]
        upper_l = gray[np.clip(np.arange(int(yu[j]) + 1, r0 + 1), 0, h - 1), cols[j]]
        k = int(np.argmin(colv))
        if upper_l.size and colv[k] < 0.7 * float(np.median(upper_l)):
            split[j] = r0 + k
    import scipy.ndimage as ndi

    split = ndi.median_filter(split, size=9, mode="nearest")
    split = np.minimum(np.maximum(split, yu + 1), yl)
    up_rgb, a_up, lo_rgb, a_lo = synthetic
    W = float(np.linalg.norm(lm[topo.MOUTH_CORNERS[1]] - lm[topo.MOUTH_CORNERS[0]]))
    # Upper arch: the photo's rows from just inside the upper lip down to the split. Above the
    # lip the top third of the teeth is stretched upward (by up to 0.12 mouth widths), so a lip
    # that lifts uncovers a little more tooth rather than repeated rows.
    top = (yu + 1.5)[None, :]
    k = np.maximum(0.33 * (split - yu), 1.0)[None, :]
    ext = 0.12 * W
    rows_up = np.where(Y >= top + k, Y, top + (Y - (top - ext)) * k / (k + ext))
    rows_up = np.clip(rows_up, top, np.maximum(split - 1, yu + 1.5)[None, :])
    photo_up = cv2.remap(img, X.astype(np.float32), rows_up.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ins = np.broadcast_to(inside[None, :], X.shape)
    a_photo_up = np.clip(split[None, :] - Y + 0.5, 0, 1) * ins * (Y > top - ext)
    # Lower arch: only the teeth the photo shows, between the split and the lower lip.
    photo_lo = img[np.clip(np.round(Y).astype(int), 0, h - 1), np.clip(np.round(X).astype(int), 0, w - 1)]
    a_photo_lo = np.clip(Y - split[None, :] + 0.5, 0, 1) * np.clip((yl - 1.0)[None, :] - Y + 0.5, 0, 1) * ins
    # Beyond the photo's opening (toward the corners) the synthetic arch, faded in.
    up_rgb = np.where(ins[..., None], photo_up.astype(np.float32), up_rgb)
    a_up = np.where(ins, a_photo_up, a_up)
    # Where the photo shows no lower teeth, the synthetic lower arch stands in.
    has_lo = ins & (split < yl - 0.5)[None, :]
    lo_rgb = np.where(has_lo[..., None], photo_lo.astype(np.float32), lo_rgb)
    a_lo = np.where(has_lo, a_photo_lo, a_lo)
    return up_rgb, a_up, lo_rgb, a_lo


def lips_without_teeth(crop: np.ndarray, lm: np.ndarray) -> np.ndarray | None:
    """A copy of ``crop`` in which the mouth opening, and teeth pixels lying on the lips' side of
    the inner-lip contour (FaceMesh places it a little inside the visible opening), are filled
    in from the lip around them; None when there is neither. Warped lips sample this copy once
    the mouth moves, so a narrowing mouth does not drag white specks of tooth along its
    corners, and lips pressed shut show no line of teeth between them (the warp's map is
    upsampled, so pixels along the closed seam sample across the photo's opening)."""
    import cv2

    lm = np.asarray(lm, np.float64)[:, :2]
    W = float(np.linalg.norm(lm[topo.MOUTH_CORNERS[1]] - lm[topo.MOUTH_CORNERS[0]]))
    inner = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(np.concatenate([lm[topo.LIPS_INNER_UPPER], lm[topo.LIPS_INNER_LOWER[::-1]]])).astype(np.int32)], 255)
    outer = np.zeros_like(inner)
    cv2.fillPoly(outer, [np.round(np.concatenate([lm[topo.LIPS_OUTER_UPPER], lm[topo.LIPS_OUTER_LOWER[::-1]]])).astype(np.int32)], 255)
    r = max(1, int(round(0.04 * W)))
    band = cv2.dilate(inner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    band = (band > 0) & (inner == 0) & (cv2.dilate(outer, np.ones((3, 3), np.uint8)) > 0)
    lip = cv2.mean(crop, mask=((outer > 0) & (inner == 0) & ~band).astype(np.uint8))[:3]
    px = crop.astype(np.float32)
    lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = px.max(axis=2) - px.min(axis=2)
    lip_lum = float(np.dot(lip, [0.299, 0.587, 0.114]))
    lip_sat = float(max(lip) - min(lip))
    teeth = band & (lum > 1.15 * lip_lum) & (sat < 0.75 * max(lip_sat, 1.0))
    if teeth.sum() < 3 and np.count_nonzero(inner) < 3:
        return None
    hole = cv2.dilate((teeth | (inner > 0)).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(hole)
    pad = 6
    y0, y1 = max(0, ys.min() - pad), min(crop.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(crop.shape[1], xs.max() + pad + 1)
    out = crop.copy()
    out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(crop[y0:y1, x0:x1]), np.ascontiguousarray(hole[y0:y1, x0:x1]), 3, cv2.INPAINT_TELEA)
    return out
