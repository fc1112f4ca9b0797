"""Extra reference photos as alternative mouth expressions.

Each extra photo of the person (``--ref`` given more than once) is brought
into the animated crop's frame once: a similarity on points that do not move
with expression (``face.align``), then a colour match in Lab (per channel,
mean and spread) over the skin both photos show. Its mouth shape is measured
in the normalised mouth frame the rig uses: the inner-lip opening, the width
and the corner lift, in units of the animated photo's relaxed mouth width.

For each frame the commanded mouth shape (the target lips, with the head's
rigid motion taken out) is placed on the line from the animated photo's shape
to each extra photo's. Past the midpoint (closer to the extra photo than to
the animated one) that photo's weight rises smoothly to 1, and falls off
again as the target leaves the line (a rounded "oo" is not a smile). Where
the weight is above zero, the mouth region of that photo (its lips, the skin
just around them, and its mouth interior when it shows one) is warped to the
target with the rig's own triangles and blended over the frame with a
feathered mask. The weight is a continuous function of the target, so mouths
do not pop between frames; at rest it is exactly 0, so a still frame is the
animated photo.
"""

from __future__ import annotations

import numpy as np

from talkcli.face import topology as topo
from talkcli.face.align import RIGID_POINTS, similarity
from talkcli.render.kernels import rasterise_affine_map
from talkcli.render.warp import triangle_affines

# Weight along the line from the animated photo's mouth shape (0) to an extra photo's (1):
# nothing before T0, all of it after T1, a smoothstep between; the midpoint gets half.
T0, T1 = 0.3, 0.7
# Distance from that line, in lengths of the line, at which the weight has fallen to 1/e.
OFF_LINE = 0.5
# Extra photos whose mouth shape is closer than this to the animated photo's (relaxed mouth
# widths) add no expression: the line between them is too short to place targets on.
MIN_SEPARATION = 0.06
# An extra photo shows its mouth interior when its lips are parted by this much (relaxed widths).
INTERIOR_GAP = 0.05
MARGIN = 0.12  # skin taken around the outer lips, in target mouth widths
FEATHER = 0.06  # the mask fades to 0 over twice this beyond the margin, in target mouth widths
REACH = 1.1  # triangles with a corner within this many relaxed mouth widths of the mouth centre are warped
UNCOVERED = -1.0e6  # map value of pixels that no triangle covers
MID = slice(3, 8)  # the middle five positions of the 11-point inner-lip chains
# The points a mouth shape is measured on.
SHAPE_POINTS = sorted(set(topo.LIPS_INNER_UPPER[MID] + topo.LIPS_INNER_LOWER[MID] + list(topo.MOUTH_CORNERS) + [13, 14]))


def mouth_shape(points: np.ndarray, width: float) -> np.ndarray:
    """``(3,)`` opening, width and corner lift of the lips in ``points`` (FaceMesh order, crop
    pixels, the head upright), each in units of ``width`` (the relaxed mouth width, pixels)."""
    p = np.asarray(points, np.float64)
    w = max(float(width), 1e-6)
    gap = float(np.mean(p[topo.LIPS_INNER_LOWER[MID], 1] - p[topo.LIPS_INNER_UPPER[MID], 1]))
    a, b = p[topo.MOUTH_CORNERS[0]], p[topo.MOUTH_CORNERS[1]]
    lift = float((p[13, 1] + p[14, 1]) / 2 - (a[1] + b[1]) / 2)
    return np.array([max(gap, 0.0), float(np.linalg.norm(b - a)), lift]) / w


def blend_weight(shape: np.ndarray, primary: np.ndarray, other: np.ndarray) -> float:
    """Weight (0..1) of the photo whose mouth shape is ``other`` for a target of ``shape``,
    against the animated photo's ``primary`` (all ``mouth_shape`` vectors). Continuous in
    ``shape``; 0 at ``primary`` and wherever the target is closer to it than to ``other``
    by the margin T0..T1."""
    axis = np.asarray(other, np.float64) - primary
    length2 = float(axis @ axis)
    if length2 < MIN_SEPARATION**2:
        return 0.0
    d = np.asarray(shape, np.float64) - primary
    t = float(d @ axis) / length2
    if t <= T0:
        return 0.0
    off = d - t * axis
    along = np.clip((t - T0) / (T1 - T0), 0.0, 1.0)
    return float(along * along * (3 - 2 * along) * np.exp(-float(off @ off) / (length2 * OFF_LINE**2)))


def skin_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """``(H, W) bool``: inside the face outline, away from the eyes, brows and lips."""
    import cv2

    lm = np.asarray(landmarks, np.float64)[:, :2]
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(lm[topo.FACE_OVAL]).astype(np.int32)], 255)
    width = float(np.ptp(lm[topo.FACE_OVAL, 0]))
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(0.03 * width)))
    holes = np.zeros(shape, np.uint8)
    for up, lo in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER),
                   (topo.LIPS_OUTER_UPPER, topo.LIPS_OUTER_LOWER)):
        cv2.fillPoly(holes, [np.round(np.concatenate([lm[up], lm[lo[::-1]]])).astype(np.int32)], 255)
    # Brows and lashes lie above the eye openings: a generous band around each eye.
    r = max(1, int(0.08 * width))
    holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return (mask > 0) & (holes == 0)


def match_colour(image: np.ndarray, image_skin: np.ndarray, ref: np.ndarray, ref_skin: np.ndarray) -> np.ndarray:
    """``image`` (``(H, W, 3) uint8`` RGB) with each Lab channel's mean and spread over
    ``image_skin`` matched to ``ref``'s over ``ref_skin`` (both ``(H, W) bool``); unchanged
    when either region is too small to measure."""
    import cv2

    if image_skin.sum() < 50 or ref_skin.sum() < 50:
        return image
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref_lab = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    a, b = lab[image_skin], ref_lab[ref_skin]
    gain = np.clip(b.std(axis=0) / np.maximum(a.std(axis=0), 1.0), 0.8, 1.25)
    lab = (lab - a.mean(axis=0)) * gain + b.mean(axis=0)
    return cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def align_expression(crop: np.ndarray, crop_landmarks: np.ndarray, image: np.ndarray,
                     landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (its ``(478, 2+)`` landmarks) resampled into the frame of ``crop`` by a
    similarity on the rigid points, colours matched in Lab over the skin both show; returns
    ``(aligned image (S, S, 3) uint8, aligned landmarks (478, 2) float64)``."""
    import cv2

    ref = np.asarray(crop_landmarks, np.float64)[:, :2]
    lm = np.asarray(landmarks, np.float64)[:, :2]
    m = similarity(lm[RIGID_POINTS], ref[RIGID_POINTS])
    h, w = crop.shape[:2]
    out = cv2.warpAffine(np.ascontiguousarray(image), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = lm @ m[:, :2].T + m[:, 2]
    shared = skin_mask((h, w), ref) & skin_mask((h, w), moved)
    return match_colour(out, shared, crop, shared), moved


class ExpressionRefs:
    """The extra photos' mouths, ready to blend over frames of the animated crop.

    ``crop``: the animated ``(S, S, 3) uint8`` crop; ``rig``: its ``FaceRig``; ``extra_refs``:
    ``(image (H, W, 3) uint8, landmarks (478, 2+) in its pixels)`` per extra photo.
    ``weights``: each photo's weight (0..1) in the last frame that ``blend`` saw (frames at
    rest never reach it: they are the animated photo).
    """

    def __init__(self, crop: np.ndarray, rig, extra_refs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.rig = rig
        face = rig.source[: rig.n_face]
        self.width = rig.neutral_width
        self.primary = mouth_shape(face, self.width)
        self.refs = []
        for image, landmarks in extra_refs:
            aligned, lm = align_expression(crop, face, np.asarray(image), np.asarray(landmarks))
            shape = mouth_shape(lm, self.width)
            if np.linalg.norm(shape - self.primary) < MIN_SEPARATION:
                continue  # the same expression as the animated photo: nothing to add
            verts = rig.source.copy()
            verts[: rig.n_face] = lm[: rig.n_face]
            self.refs.append({"image": aligned, "verts": verts, "shape": shape, "interior": shape[0] > INTERIOR_GAP})
        # The rig's triangles among face points near the mouth, in the rig's draw order.
        tris = rig.triangles
        near = np.linalg.norm(face - rig.mouth_centre, axis=1) < REACH * self.width
        keep = np.all(tris < rig.n_face, axis=1) & near[np.minimum(tris, rig.n_face - 1)].any(axis=1)
        self.triangles = np.ascontiguousarray(tris[keep])
        self.weights = np.zeros(len(self.refs))

    def __len__(self) -> int:
        return len(self.refs)

    def frame_weights(self, target: np.ndarray, skull: np.ndarray) -> np.ndarray:
        """``(R,)`` weight of each extra photo for ``target`` (``(V, 2)`` crop pixels) whose head
        pose is ``skull`` (``(2, 3)`` affine, reference crop -> frame); they sum to at most 1."""
        (a, b), (c, d) = skull[:, :2]
        inv = np.array([[d, -b], [-c, a]]) / (a * d - b * c)
        upright = np.zeros((self.rig.n_face, 2))
        upright[SHAPE_POINTS] = (np.asarray(target[SHAPE_POINTS], np.float64) - skull[:, 2]) @ inv.T
        shape = mouth_shape(upright, self.width)
        w = np.array([blend_weight(shape, self.primary, r["shape"]) for r in self.refs])
        total = float(w.sum())
        return w / total if total > 1.0 else w

    def blend(self, frame: np.ndarray, target: np.ndarray, skull: np.ndarray) -> np.ndarray | None:
        """Blend the extra photos' mouths, warped to ``target``, over ``frame`` (``(S, S, 3)
        uint8``, in place). Returns where they cover the frame, ``(S, S) float32`` 0..1, or
        None when no photo has any weight (``frame`` untouched)."""
        import cv2

        self.weights = w = self.frame_weights(target, skull)
        if not np.any(w > 0):
            return None
        lips = np.concatenate([target[topo.LIPS_OUTER_UPPER], target[topo.LIPS_OUTER_LOWER[::-1]]])
        span = float(np.linalg.norm(target[topo.MOUTH_CORNERS[1]] - target[topo.MOUTH_CORNERS[0]]))
        r = MARGIN * span
        sigma = max(0.5, FEATHER * span)
        pad = int(np.ceil(r + 2 * sigma)) + 2
        h, wd = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + pad + 1, (wd, h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        origin = np.array([x0, y0], np.float64)
        # Feathered region: full weight within the margin of the outer lips, fading to 0 over
        # twice the feather beyond it (by distance to the lips, so the fade follows their shape).
        outside_lips = np.full((y1 - y0, x1 - x0), 255, np.uint8)
        cv2.fillPoly(outside_lips, [np.round((lips - origin) * 16).astype(np.int32)], 0, lineType=cv2.LINE_8, shift=4)
        dist = cv2.distanceTransform(outside_lips, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        mask = np.clip((r + 2 * sigma - dist) / (2 * sigma), 0.0, 1.0)
        mask = mask * mask * (3 - 2 * mask)
        inner = np.zeros(mask.shape, np.uint8)
        opening = np.concatenate([target[topo.LIPS_INNER_UPPER], target[topo.LIPS_INNER_LOWER[::-1]]])
        cv2.fillPoly(inner, [np.round((opening - origin) * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
        outside = 1.0 - inner.astype(np.float32) / 255.0
        # Each photo's backward map over the region, from the triangles that reach into it
        # (later triangles win, as in the mesh warp); pixels none covers keep the sentinel.
        corners = target[self.triangles]
        lo, hi = corners.min(axis=1), corners.max(axis=1)
        near = self.triangles[(hi[:, 0] >= x0) & (lo[:, 0] < x1) & (hi[:, 1] >= y0) & (lo[:, 1] < y1)]
        xs, ys = np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64)
        local = np.asarray(target, np.float64) - origin
        covered = None
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        acc = np.zeros_like(roi)
        alpha_total = np.zeros(mask.shape, np.float32)
        for weight, ref in zip(w, self.refs):
            if weight <= 0:
                continue
            m = triangle_affines(target, ref["verts"], near).reshape(-1, 6)
            mx = np.full(mask.shape, UNCOVERED, np.float32)
            my = np.full(mask.shape, UNCOVERED, np.float32)
            rasterise_affine_map(local, near, m, xs, ys, mx, my)
            if covered is None:
                covered = mx != UNCOVERED
            warped = cv2.remap(ref["image"], mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            # A photo with closed lips lends its lips only; the interior stays the drawn one.
            alpha = mask * covered if ref["interior"] else mask * covered * outside
            alpha *= weight
            acc += alpha[..., None] * warped.astype(np.float32)
            alpha_total += alpha
        frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - alpha_total[..., None]) + acc + 0.5, 0, 255).astype(np.uint8)
        out = np.zeros((h, wd), np.float32)
        out[y0:y1, x0:x1] = alpha_total
        return out
