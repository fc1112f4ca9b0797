"""The face rig: a triangle mesh over the crop and how mouth, blink and head parameters move it.

Vertices: the 468 FaceMesh points, two anchor rings around the face outline
(which follow the head partly) and fixed points on the crop border. Triangles:
FaceMesh's tessellation, the mouth and eye holes filled, and a Delaunay
triangulation of the region between the face outline and the border.

All positions are crop pixels, x right, y down; the crop is rotated so the eyes
are level, so "down" is down the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from talkcli.face import topology as topo

RING_SCALES = (1.3, 1.75)  # anchor rings, as multiples of the face outline about its centre
# Share of the head's motion each ring follows. The rings carry hair and neck; the
# background around them is held still by the person matte in FrameRenderer.
RING_FOLLOW = (0.9, 0.55)
RELIEF_SMOOTHING = 4  # neighbour-averaging sweeps over the depth relief used for head turns
BORDER_CLEARANCE = 0.35  # a ring point moves at most this share of its distance to the crop border
FOLD_ITERATIONS = 6  # relaxation sweeps allowed to unfold a frame's mesh
# The relaxation treats a triangle as folded when its orientation flips by more than this (twice the
# area, px^2); what it leaves (slivers at the lip corners and nostrils) the area projection fixes
# exactly, so the result has no sign flip at all.
FOLD_TOLERANCE = 0.1
PROJECTION_SWEEPS = 40  # most sweeps of the per-triangle area projection (a few are typical)
MIN_AREA_SHARE = 0.25  # a repaired triangle keeps at least this share of its photo area
BORDER_POINTS_PER_SIDE = 8
GLASSES_LID_SPREAD = 0.22  # lid skin band (eye widths) behind glasses: the rims above and below stay put


def _signed_area(p: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle (positive: counter-clockwise in x-right, y-down)."""
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _head_depth(face: np.ndarray, face_width: float, adjacency) -> np.ndarray:
    """FaceMesh depth, tamed near the outline: a quadratic fit (a smooth head shape) plus the
    relief (nose, brows, lips) faded out toward the silhouette, where the raw depth rises so
    steeply that a few degrees of yaw would fold the side of the face over itself."""
    x, y, z = face[:, 0], face[:, 1], face[:, 2]
    cx, cy = x.mean(), y.mean()
    u, v = (x - cx) / face_width, (y - cy) / face_width
    basis = np.stack([np.ones_like(u), u, v, u * u, v * v, u * v], axis=1)
    coef, *_ = np.linalg.lstsq(basis, z, rcond=None)
    smooth = basis @ coef
    oval = face[topo.FACE_OVAL, :2]
    dist = np.min(np.linalg.norm(face[:, None, :2] - oval[None], axis=2), axis=1)
    keep = _smoothstep(dist / (0.18 * face_width))
    relief = keep * (z - smooth)
    # Soften the relief's steepest slopes (under the nose, the nostril wings): a few sweeps of
    # neighbour averaging, so pitch and yaw of a few degrees do not turn them over.
    for _ in range(RELIEF_SMOOTHING):
        relief = 0.5 * relief + 0.5 * (adjacency @ relief)
    return smooth + relief


def _chain_u(face: np.ndarray, cx: float, width: float) -> np.ndarray:
    """Normalised x (-1 left corner .. 1 right) of each inner-lip chain position, increasing."""
    x = (face[topo.LIPS_INNER_UPPER, 0] + face[topo.LIPS_INNER_LOWER, 0]) / 2
    u = (x - cx) / max(width / 2, 1e-6)
    u[0], u[-1] = min(u[0], -1.0), max(u[-1], 1.0)
    return np.maximum.accumulate(u)


def _mouth_fields(face: np.ndarray, mouth_width: float, face_width: float) -> dict:
    """Per-vertex weights of the mouth's displacement fields.

    Every vertex gets its motion from its position in the mouth frame: ``u``
    across (-1..1 between the corners), the side of the lip line, and the
    distance from it. Above the line a vertex follows the upper lip (fading
    toward the nose); below, a blend of the lower lip and the jaw. Within a
    side the vertical motion depends on the column and fades slowly with
    distance, so the field is a gentle shear: triangles cannot turn over.
    """
    W = mouth_width
    a, b = face[topo.MOUTH_CORNERS[0]], face[topo.MOUTH_CORNERS[1]]
    cx = (a[0] + b[0]) / 2
    mid_x = (face[topo.LIPS_INNER_UPPER, 0] + face[topo.LIPS_INNER_LOWER, 0]) / 2
    mid_y = (face[topo.LIPS_INNER_UPPER, 1] + face[topo.LIPS_INNER_LOWER, 1]) / 2
    order = np.argsort(mid_x)
    line = np.interp(face[:, 0], mid_x[order], mid_y[order])
    x, y = face[:, 0], face[:, 1]
    u = (x - cx) / max(W / 2, 1e-6)
    above = y < line
    dv = (y - line) / W  # > 0 below the line
    upper_lip = max(float(line[0] * 0 + (np.interp(cx, mid_x[order], mid_y[order]) - face[0, 1]) / W), 0.1)
    lower_lip = max(float((face[17, 1] - np.interp(cx, mid_x[order], mid_y[order])) / W), 0.1)
    chin = max(float((face[topo.CHIN, 1] - np.interp(cx, mid_x[order], mid_y[order])) / W), lower_lip + 0.2)
    h_up = 1 - _smoothstep((-dv - upper_lip) / 0.35)
    h_lo = 1 - _smoothstep((dv - chin) / 0.25)
    jaw = _smoothstep((dv - 0.5 * lower_lip) / max(0.6 * (chin - 0.5 * lower_lip), 1e-6))
    lateral = 1.0 - 0.55 * np.clip(np.abs(x - cx) / (face_width / 2), 0, 1) ** 2
    kx = 1 - _smoothstep((np.abs(u) - 1) / 0.6)
    ky = 1 - _smoothstep((np.abs(dv) - 0.3) / 0.4)
    corner = np.minimum(np.abs(u), 1.0) ** 3 * kx * ky
    pout = np.where(above, np.clip(-dv / upper_lip, 0, 1) * h_up, -np.clip(dv / lower_lip, 0, 1) * (1 - jaw)) * kx
    inner = set(topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER)
    free = np.array([i for i in range(topo.N_MESH) if i not in inner])
    # Width changes spread further into the cheeks than the lip fields, so narrowing does not pinch.
    # Sideways it spreads further, but not up to the nose wings (which stay where they are).
    k_wide = 1 - _smoothstep((np.abs(u) - 1) / 1.1)
    ky_h = 1 - _smoothstep((np.abs(dv) - 0.2) / 0.3)
    # Above the lips it fades out gradually from the lip line to a little past the nose's base
    # (1.6 times the upper lip's height): on a short upper lip the full field squeezed the
    # nostrils' lower rim sideways under a still nose wing (a bright speck on a narrowed "oo"), and
    # a fade confined to the lip itself sheared the skin just below the nostrils instead.
    nose = max(float((np.interp(cx, mid_x[order], mid_y[order]) - face[topo.NOSE_BASE, 1]) / W), 0.15)
    ky_h = np.where(above, np.minimum(ky_h, 1 - _smoothstep(-dv / (1.6 * nose))), ky_h)
    return {"u": np.clip(u, -1, 1), "above": above, "h_up": h_up, "h_lo": h_lo, "jaw": jaw, "lateral": lateral,
            "k": k_wide * ky_h, "corner": corner, "pout": pout, "free": free}


def _eye_fields(face: np.ndarray, upper: list[int], lower: list[int], spread: float = 0.45) -> dict:
    """Per-vertex weights of one eye's lid fields: the band of lid skin above the upper lid
    and below the lower one, column by column over the eye's width."""
    up, lo = np.asarray(upper), np.asarray(lower)
    xs_u, ys_u = face[up, 0], face[up, 1]
    xs_l, ys_l = face[lo, 0], face[lo, 1]
    ou, ol = np.argsort(xs_u), np.argsort(xs_l)
    x0, x1 = min(xs_u.min(), xs_l.min()), max(xs_u.max(), xs_l.max())
    grid = np.linspace(x0, x1, 24)
    yu = np.interp(grid, xs_u[ou], ys_u[ou])
    yl = np.interp(grid, xs_l[ol], ys_l[ol])
    gap = np.maximum(yl - yu, 0.0)
    gap[0] = gap[-1] = 0.0
    width = max(x1 - x0, 1e-6)
    band = spread * width
    x, y = face[:, 0], face[:, 1]
    y_up = np.interp(x, grid, yu)
    y_lo = np.interp(x, grid, yl)
    inside_x = (x > x0) & (x < x1)
    h_up = np.where(inside_x & (y <= y_up), 1 - _smoothstep((y_up - y) / band), 0.0)
    h_lo = np.where(inside_x & (y >= y_lo), 1 - _smoothstep((y - y_lo) / (0.6 * band)), 0.0)
    chain = set(upper) | set(lower)
    free = np.array([i for i in range(topo.N_MESH) if i not in chain and (h_up[i] > 0 or h_lo[i] > 0)], dtype=int)
    return {"x": grid, "gap": gap, "h_up": h_up, "h_lo": h_lo, "free": free, "upper": up[1:-1], "lower": lo[1:-1],
            "lid_gap": face[lo[1:-1], 1] - face[up[1:-1], 1]}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class FaceRig:
    """Mesh and deformation model for one reference face (crop coordinates)."""

    size: int
    source: np.ndarray  # (V, 2) float64: vertex positions in the reference crop
    depth: np.ndarray  # (468,) float64: FaceMesh z of the face vertices (crop pixels)
    triangles: np.ndarray  # (T, 3) int32
    n_face: int  # the first n_face vertices are FaceMesh points
    ring_slices: tuple[slice, slice]
    ring_parent: tuple[np.ndarray, np.ndarray]  # nearest face-outline vertex of each ring point
    mouth_width: float
    face_width: float
    pivot: np.ndarray  # (3,) head rotation centre
    expression: float = 1.0  # 1 keeps the photo's smile at rest, 0 relaxes it
    rest_gap: float = 1.0  # 1 keeps the photo's parted lips at rest, 0 closes them in silence
    neutral_width: float = 0.0  # relaxed mouth width (crop pixels), from face.expression
    photo_lift: float = 0.0  # lip centre below the corners' line in the photo (pixels)
    neutral_lift: float = 0.0
    mouth_centre: np.ndarray | None = None
    _chains: dict = field(default_factory=dict, repr=False)
    _profile: np.ndarray | None = None
    _photo_gap: np.ndarray | None = None
    _u2: dict = field(default_factory=dict, repr=False)
    _field: dict = field(default_factory=dict, repr=False)  # per-vertex weights of the mouth and lid fields
    _eyes: tuple = ()
    _chain_u: np.ndarray | None = None
    _ring_room: tuple = ()  # per ring point: the most it may move (pixels) without crowding the border  # normalised x of the inner-lip chain positions (increasing)
    _neighbours: object = None  # sparse row-normalised vertex adjacency (fold relaxation)
    _fold_tris: np.ndarray | None = None
    _fold_sign: np.ndarray | None = None
    _area0: np.ndarray | None = None
    _affine_fit: dict = field(default_factory=dict, repr=False)
    _movable: np.ndarray | None = None

    @classmethod
    def build(cls, landmarks: np.ndarray, size: int, expression: float = 1.0, glasses: bool = False,
              rest_gap: float | None = None) -> "FaceRig":
        """``landmarks``: ``(478, 3)`` in crop pixels (``CropGeometry.to_crop``).

        ``expression`` in 0..1: how much of the photo's own mouth expression (smile,
        parted lips) is kept at rest; 1 keeps the photo as it is. ``rest_gap`` (default:
        ``expression``) separately sets how much of the photo's lip parting stays at rest:
        0 closes parted lips in silence. ``glasses``: the photo shows
        glasses (``face.glasses``); the lid fields then stay inside the frames' rims.
        """
        from talkcli.face.expression import estimate_expression

        from scipy.spatial import Delaunay

        lm = np.asarray(landmarks, dtype=np.float64)
        face = lm[: topo.N_MESH, :2]
        oval = face[topo.FACE_OVAL]
        centre = oval.mean(axis=0)
        verts = [face]
        slices = []
        parents = []
        start = topo.N_MESH
        lo, hi = 1.0, size - 2.0
        for scale in RING_SCALES:
            ring = centre + (oval - centre) * scale
            inside = np.all((ring >= lo) & (ring <= hi), axis=1)
            ring = ring[inside]
            verts.append(ring)
            slices.append(slice(start, start + len(ring)))
            parents.append(np.asarray(topo.FACE_OVAL)[inside])
            start += len(ring)
        edge = np.linspace(0, size - 1, BORDER_POINTS_PER_SIDE + 1)
        border = np.concatenate(
            [
                np.stack([edge[:-1], np.zeros_like(edge[:-1])], 1),
                np.stack([np.full_like(edge[:-1], size - 1), edge[:-1]], 1),
                np.stack([edge[1:], np.full_like(edge[1:], size - 1)], 1),
                np.stack([np.zeros_like(edge[1:]), edge[1:]], 1),
            ]
        )
        verts.append(border)
        source = np.concatenate(verts).astype(np.float64)

        # Outer region: Delaunay over outline + rings + border, minus what lies inside the outline.
        outer_idx = np.concatenate([np.asarray(topo.FACE_OVAL), np.arange(topo.N_MESH, len(source))])
        tri = Delaunay(source[outer_idx])
        outer = outer_idx[tri.simplices]
        import cv2

        poly = oval.astype(np.float32).reshape(-1, 1, 2)
        keep = [
            cv2.pointPolygonTest(poly, tuple(map(float, source[t].mean(axis=0))), False) < 0 for t in outer
        ]
        outer = outer[np.asarray(keep, dtype=bool)]
        holes = np.asarray(topo.hole_triangles(), dtype=np.int32)
        # Draw order matters where triangles overlap after deformation: holes first, skin on top.
        triangles = np.concatenate([outer, holes, topo.tessellation_triangles()]).astype(np.int32)

        mouth_width = float(np.linalg.norm(face[topo.MOUTH_CORNERS[1]] - face[topo.MOUTH_CORNERS[0]]))
        face_width = float(oval[:, 0].max() - oval[:, 0].min())

        fields = _mouth_fields(face, mouth_width, face_width)
        eyes = tuple(_eye_fields(face, upper, lower, GLASSES_LID_SPREAD if glasses else 0.45) for upper, lower in
                     ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)))

        ex = estimate_expression(lm)
        chains = {k: np.asarray(c) for k, c in (("up_i", topo.LIPS_INNER_UPPER), ("lo_i", topo.LIPS_INNER_LOWER),
                                                 ("up_o", topo.LIPS_OUTER_UPPER), ("lo_o", topo.LIPS_OUTER_LOWER))}
        n = len(topo.LIPS_INNER_UPPER)
        half = max(ex.width / 2, 1e-6)
        u2 = {k: np.clip(((face[idx, 0] - ex.centre[0]) / half) ** 2, 0, 1) for k, idx in chains.items()}

        # Fold relaxation works on every triangle except the holes (which may collapse).
        n_outer = len(outer)
        fold_tris = np.concatenate([triangles[:n_outer], triangles[n_outer + len(holes):]])
        fold_sign = np.sign(_signed_area(source, fold_tris))
        import scipy.sparse as sp

        edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
        edges = np.concatenate([edges, edges[:, ::-1]])
        adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(source),) * 2).tocsr()
        adj.data[:] = 1.0
        adj = sp.diags(1.0 / np.maximum(np.asarray(adj.sum(axis=1)).ravel(), 1)) @ adj
        depth = _head_depth(lm[: topo.N_MESH], face_width, adj[: topo.N_MESH, : topo.N_MESH])
        movable = np.ones(len(source), dtype=bool)
        movable[slices[-1].stop if slices else topo.N_MESH :] = False  # the border never moves
        # The inner lips and lid margins keep their exact targets (closures must close).
        movable[topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER] = False
        movable[topo.EYE_A_UPPER + topo.EYE_A_LOWER + topo.EYE_B_UPPER + topo.EYE_B_LOWER] = False
        pivot = np.array([centre[0], centre[1], float(depth.mean()) + 0.6 * face_width])
        return cls(
            expression=float(np.clip(expression, 0.0, 1.0)),
            rest_gap=float(np.clip(expression if rest_gap is None else rest_gap, 0.0, 1.0)),
            neutral_width=ex.neutral_width,
            photo_lift=ex.lift,
            neutral_lift=min(ex.lift, 0.0),
            mouth_centre=ex.centre,
            _chains=chains,
            _field=fields,
            _chain_u=_chain_u(face, ex.centre[0], ex.width),
            _ring_room=tuple(BORDER_CLEARANCE * np.min(np.stack([source[sl, 0], source[sl, 1], size - 1 - source[sl, 0],
                                                                  size - 1 - source[sl, 1]]), axis=0) for sl in slices),
            _eyes=eyes,
            _profile=np.sin(np.pi * np.arange(n) / (n - 1)) ** 0.8,
            _photo_gap=face[chains["lo_i"], 1] - face[chains["up_i"], 1],
            _u2=u2,
            _neighbours=adj.tocsr(),
            _fold_tris=fold_tris,
            _fold_sign=fold_sign,
            _area0=_signed_area(source, fold_tris),
            _movable=movable,
            size=size,
            source=source,
            depth=depth,
            triangles=triangles,
            n_face=topo.N_MESH,
            ring_slices=tuple(slices),
            ring_parent=tuple(parents),
            mouth_width=mouth_width,
            face_width=face_width,
            pivot=pivot,
        )

    def local_displacement(self, mouth: np.ndarray, blink: float) -> np.ndarray:
        """``(468, 2)`` displacement of the face vertices for one frame's mouth and blink.

        Mouth shapes are set in a normalised mouth frame (centre between the
        corners, widths in units of the relaxed width ``neutral_width``):
        the inner-lip gap, the width and the corner lift are targets, blended
        from the rest shape (the photo's own mouth, toned down by
        ``expression``) as the parameters grow. All parameters at zero with
        ``expression`` 1 give the photo itself; press 1 always shuts the lips.
        """
        jaw, rnd, stretch, press = (float(v) for v in mouth)
        face = self.source[: self.n_face]
        disp = np.zeros((self.n_face, 2))
        e = self.expression
        W0, Wp = self.neutral_width, self.mouth_width
        profile = self._profile
        # Inner-lip gap per chain position: the absolute jaw-driven opening plus what is left of
        # the rest gap (the photo's own parting, scaled by expression) as speech takes over.
        g_photo = self._photo_gap
        take_over = min(1.0, 2.0 * max(jaw, rnd, stretch))
        gap = (0.4 * W0 * jaw * (1 - 0.3 * rnd) * profile + self.rest_gap * g_photo * (1 - take_over)) * (1 - press)
        change = gap - g_photo
        d_up = -0.25 * change
        d_lo = 0.75 * change
        # Width and corner lift, both absolute: rounding narrows to 72% of the relaxed width and
        # drops the smile; stretch widens.
        w_rest = W0 + e * (Wp - W0)
        # On a smiling photo a rounded mouth keeps a little of the smile's width (a fifth of what
        # the smile adds, at most 80% of the smiling width): pulling the corners all the way in
        # pinches the cheeks into a pucker, keeping more leaves "oo" as wide as a relaxed mouth.
        w_round = max(0.72 * W0, min(0.8 * w_rest, 0.72 * W0 + 0.8 * (w_rest - W0)))
        width = w_rest * (1 + 0.1 * stretch - 0.06 * jaw) + rnd * (w_round - w_rest)
        xscale = width / Wp
        lift_rest = self.neutral_lift + e * (self.photo_lift - self.neutral_lift)
        lift = lift_rest * (1 - rnd)
        u2 = self._u2  # (normalised distance from the mouth centre)^2, per chain vertex
        corner_dy = (self.photo_lift - lift) + 0.18 * max(0.0, float(change.max())) - 0.03 * W0 * stretch
        pout = 0.05 * W0 * rnd * profile
        squeeze = 0.02 * W0 * press * profile
        cx = self.mouth_centre[0]
        for key, dy, extra in (("up_i", d_up, 0.0), ("lo_i", d_lo, 0.0)):
            idx = self._chains[key]
            disp[idx, 1] = dy + extra + corner_dy * u2[key] ** 1.5
            disp[idx, 0] = (face[idx, 0] - cx) * (xscale - 1)
        # Skin between and around the chains: smooth fields over the mouth frame (see _mouth_fields).
        f = self._field
        idx = f["free"]
        d_u = np.interp(f["u"], self._chain_u, change)  # gap change along the mouth, 0 beyond the corners
        d_c = float(change[len(change) // 2])
        upper = -0.25 * d_u * f["h_up"]
        lower = 0.75 * (d_u * (1 - f["jaw"]) + d_c * f["jaw"] * f["lateral"]) * f["h_lo"]
        dy = np.where(f["above"], upper, lower)
        dy += corner_dy * f["corner"] - (pout - squeeze)[len(pout) // 2] * f["pout"]
        disp[idx, 1] = dy[idx]
        disp[idx, 0] = ((face[:, 0] - cx) * (xscale - 1) * f["k"])[idx]
        # Eyelids: the upper lid comes down 85% of the way, the lower rises 15%; the lid skin
        # stretches over a band above and below (column by column, so it cannot fold).
        if blink:
            for eye in self._eyes:
                gap_x = np.interp(face[:, 0], eye["x"], eye["gap"], left=0.0, right=0.0)
                d = blink * gap_x * (0.85 * eye["h_up"] - 0.15 * eye["h_lo"])
                disp[eye["free"], 1] += d[eye["free"]]
                disp[eye["upper"], 1] = blink * 0.85 * eye["lid_gap"]
                disp[eye["lower"], 1] = -blink * 0.15 * eye["lid_gap"]
        return disp

    def target(self, mouth: np.ndarray, blink: float, head: np.ndarray) -> np.ndarray:
        """``(V, 2)`` target vertex positions for one frame (see ``MotionBlock`` for units).

        No triangle folds over: where the deformation would flip one, the
        displacement is relaxed toward its neighbours' (see ``unfold``).
        """
        out = self.source.copy()
        face = np.column_stack([self.source[: self.n_face] + self.local_displacement(mouth, blink), self.depth])
        if np.any(np.asarray(head, float) != 0):
            moved = self.rigid(face, head)
            head_disp = moved[:, :2] - face[:, :2]
            out[: self.n_face] = moved[:, :2]
            for sl, parent, follow, room in zip(self.ring_slices, self.ring_parent, RING_FOLLOW, self._ring_room):
                move = follow * head_disp[parent]
                norm = np.maximum(np.linalg.norm(move, axis=1), 1e-9)
                out[sl] += move * np.minimum(1.0, room / norm)[:, None]
        else:
            out[: self.n_face] = face[:, :2]
        return self.unfold(out)

    def rigid(self, points: np.ndarray, head: np.ndarray) -> np.ndarray:
        """``(N, 3)`` crop points (x, y, depth) moved rigidly with the head (yaw, pitch, roll in
        degrees; tx, ty in face widths): rotation about the head's pivot, then translation."""
        yaw, pitch, roll, tx, ty = (float(v) for v in head)
        ry, rp, rr = np.radians([yaw, pitch, roll])
        cy_, sy_ = np.cos(ry), np.sin(ry)
        cp, sp = np.cos(rp), np.sin(rp)
        cr, sr = np.cos(rr), np.sin(rr)
        rot_y = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
        rot_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        rot_z = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        rot = rot_z @ rot_x @ rot_y
        moved = (np.asarray(points, np.float64) - self.pivot) @ rot.T + self.pivot
        moved[:, 0] += tx * self.face_width
        moved[:, 1] += ty * self.face_width
        return moved

    def skull_affine(self, head: np.ndarray, idx: list[int]) -> np.ndarray:
        """``(2, 3)`` affine (crop -> crop) that best follows the rigid head motion of the face
        vertices ``idx``: how things fixed to the skull near them (upper teeth) move."""
        key = tuple(idx)
        if key not in self._affine_fit:
            src = np.column_stack([self.source[idx], self.depth[idx]])
            self._affine_fit[key] = (src, np.linalg.pinv(np.column_stack([src[:, :2], np.ones(len(idx))])))
        src, pinv = self._affine_fit[key]
        if not np.any(np.asarray(head, float) != 0):
            return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return (pinv @ self.rigid(src, head)[:, :2]).T

    def folded(self, target: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Indices (into the skin and outer triangles: every triangle but the mouth and eye holes) of triangles whose orientation flips in ``target``.

        ``tolerance`` 0 counts every sign change (a zero area included); a positive value
        (twice the area, px^2) ignores flips smaller than that.
        """
        area = _signed_area(target, self._fold_tris) * self._fold_sign
        return np.flatnonzero(area <= 0) if tolerance <= 0 else np.flatnonzero(area < -tolerance)

    def unfold(self, target: np.ndarray) -> np.ndarray:
        """``target`` with no triangle turned over (see ``folded``; strict, every sign change).

        Large folds (the skin under an opening jaw) are first relaxed smoothly toward
        their neighbours' displacement (``_relax``); the slivers that remain are repaired
        by projecting each one's signed area back to a share of its photo area, moving
        its free corners along the area gradient (sub-pixel moves, a few sweeps).
        """
        return self._project(self._relax(target))

    def _project(self, target: np.ndarray) -> np.ndarray:
        bad = self.folded(target)
        if len(bad) == 0:
            return target
        p = target.copy()
        tris, sign = self._fold_tris, self._fold_sign
        goal_all = np.maximum(MIN_AREA_SHARE * np.abs(self._area0), 1e-3)
        free = self._movable.astype(np.float64)
        free[self.n_face :] = 0.0  # the rings follow the head exactly; only the skin gives way
        for _ in range(PROJECTION_SWEEPS):
            # Gauss-Seidel over the flipped triangles, one at a time (they share corners).
            for k in bad:
                i = tris[k]
                q = p[i]
                a = sign[k] * ((q[1, 0] - q[0, 0]) * (q[2, 1] - q[0, 1]) - (q[1, 1] - q[0, 1]) * (q[2, 0] - q[0, 0]))
                if a > 0:
                    continue
                # d(area)/d(corner j) is the opposite edge turned by 90 degrees.
                e = q[[2, 0, 1]] - q[[1, 2, 0]]  # edge opposite each corner
                grad = sign[k] * np.stack([-e[:, 1], e[:, 0]], axis=1)
                w = free[i]
                if not w.any():
                    w = np.ones(3)  # all three corners pinned: let them all give way
                denom = float(np.sum(w * np.sum(grad * grad, axis=1)))
                if denom < 1e-12:
                    # Collapsed to a point or a line: nudge the freest corner off it.
                    j = int(np.argmax(w))
                    p[i[j]] += 1e-2 * np.array([1.0, 0.0])
                    continue
                # Linearised step to the goal area; the next sweep catches what the quadratic term leaves.
                lam = (goal_all[k] - a) / denom
                p[i] += (lam * w)[:, None] * grad
            bad = self.folded(p)
            if len(bad) == 0:
                break
        return p

    def _relax(self, target: np.ndarray) -> np.ndarray:
        """Relax the displacement around folded triangles (beyond ``FOLD_TOLERANCE``).

        Each sweep moves the vertices of flipped triangles (and their neighbours)
        halfway toward the mean displacement of their neighbours: a local
        Laplacian smoothing that leaves unfolded regions exactly as they were.
        Degenerate photo triangles (zero source area) are ignored. Each flipped
        triangle first pulls its corners toward a rotated and scaled copy of its
        photo shape at its current centroid (corners shared by several take the
        mean of their goals); then one ring around them is smoothed. Of the sweeps
        (at most ``FOLD_ITERATIONS``), the one with the fewest folds is returned.
        The loop is compiled (``render.kernels.relax_folds``).
        """
        from talkcli.render.kernels import relax_folds

        adj = self._neighbours
        return relax_folds(self.source, np.asarray(target, np.float64), self._fold_tris, self._fold_sign,
                           self._movable, adj.indptr, adj.indices, adj.data, FOLD_TOLERANCE, FOLD_ITERATIONS)
