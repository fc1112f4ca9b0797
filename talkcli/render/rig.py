"""The face rig: a triangle mesh over the crop and how mouth, blink and head parameters move it.

Vertices: the 468 FaceMesh points, two anchor rings around the face outline
(which follow the head partly) and fixed points on the crop border. Triangles:
FaceMesh's tessellation, the mouth and eye holes filled, and a Delaunay
triangulation of the region between the face outline and the border.

All positions are crop pixels, x right, y down; the crop is rotated so the eyes
are level, so "down" is down the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face import topology as topo

RING_SCALES = (1.3, 1.75)  # anchor rings, as multiples of the face outline about its centre
RING_FOLLOW = (0.45, 0.12)  # share of the head's motion each ring follows
BORDER_POINTS_PER_SIDE = 8


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
    jaw_weight: np.ndarray  # (468,) how far each vertex follows the jaw
    spread_index: np.ndarray  # (468,) vertices that follow lips/lids through the spread matrix
    spread_drivers: np.ndarray  # driver vertex indices (lips + lids)
    spread_matrix: np.ndarray  # (len(spread_index), len(spread_drivers))
    pivot: np.ndarray  # (3,) head rotation centre

    @classmethod
    def build(cls, landmarks: np.ndarray, size: int) -> "FaceRig":
        """``landmarks``: ``(478, 3)`` in crop pixels (``CropGeometry.to_crop``)."""
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

        # Jaw: vertices below the mouth-corner line follow the jaw, fully from the chin
        # up to about the lower lip, less towards the jaw angles.
        corners_y = face[list(topo.MOUTH_CORNERS), 1].mean()
        chin_y = face[topo.CHIN, 1]
        mouth_cx = face[list(topo.MOUTH_CORNERS), 0].mean()
        down = _smoothstep((face[:, 1] - corners_y) / max(chin_y - corners_y, 1e-6) * 2.2)
        lateral = 1.0 - 0.55 * np.clip(np.abs(face[:, 0] - mouth_cx) / (face_width / 2), 0, 1) ** 2
        jaw_weight = down * lateral
        lips = set(topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER + topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER)
        jaw_weight[list(lips)] = 0.0  # lips have explicit targets

        # Spread: skin near the lips and lids follows them smoothly (Gaussian weights, normalised,
        # faded with distance to the nearest driver).
        lids = set(topo.EYE_A_UPPER + topo.EYE_A_LOWER + topo.EYE_B_UPPER + topo.EYE_B_LOWER)
        drivers = np.array(sorted(lips | lids))
        free = np.array([i for i in range(topo.N_MESH) if i not in lips and i not in lids])
        d = np.linalg.norm(face[free][:, None, :] - face[drivers][None, :, :], axis=2)
        sigma = np.where(np.isin(drivers, list(lips)), 0.35 * mouth_width, 0.18 * face_width)[None, :]
        w = np.exp(-((d / sigma) ** 2))
        falloff = w.max(axis=1, keepdims=True)
        matrix = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-9) * falloff

        depth = lm[: topo.N_MESH, 2]
        pivot = np.array([centre[0], centre[1], float(depth.mean()) + 0.6 * face_width])
        return cls(
            size=size,
            source=source,
            depth=depth,
            triangles=triangles,
            n_face=topo.N_MESH,
            ring_slices=tuple(slices),
            ring_parent=tuple(parents),
            mouth_width=mouth_width,
            face_width=face_width,
            jaw_weight=jaw_weight,
            spread_index=free,
            spread_drivers=drivers,
            spread_matrix=matrix,
            pivot=pivot,
        )

    def local_displacement(self, mouth: np.ndarray, blink: float) -> np.ndarray:
        """``(468, 2)`` displacement of the face vertices for one frame's mouth and blink.

        Mouth shapes are absolute: the lips' gap is set from the parameters, not
        added to the photo's own, so a photo with parted lips still closes on /m/.
        """
        jaw, rnd, stretch, press = (float(v) for v in mouth)
        face = self.source[: self.n_face]
        disp = np.zeros((self.n_face, 2))
        W = self.mouth_width
        up_i, lo_i = topo.LIPS_INNER_UPPER, topo.LIPS_INNER_LOWER
        up_o, lo_o = topo.LIPS_OUTER_UPPER, topo.LIPS_OUTER_LOWER
        n = len(up_i)
        profile = np.sin(np.pi * np.arange(n) / (n - 1)) ** 0.8
        gap = 0.4 * W * jaw * (1 - 0.3 * rnd) * (1 - press) * profile
        mid = (face[up_i, 1] + face[lo_i, 1]) / 2
        d_up = (mid - 0.25 * gap) - face[up_i, 1]
        d_lo = (mid + 0.75 * gap) - face[lo_i, 1]
        pout = 0.05 * W * rnd * profile
        squeeze = 0.02 * W * press * profile
        cx = face[list(topo.MOUTH_CORNERS), 0].mean()
        xscale = 1 - 0.28 * rnd + 0.1 * stretch - 0.06 * jaw
        corner_dy = 0.18 * gap.max() - 0.03 * W * stretch
        for chain, dy, extra in ((up_i, d_up, 0.0), (lo_i, d_lo, 0.0), (up_o, d_up, -pout + squeeze), (lo_o, d_lo, pout - squeeze)):
            idx = np.asarray(chain)
            disp[idx, 1] = dy + extra
            disp[idx, 0] = (face[idx, 0] - cx) * (xscale - 1)
        for c in (up_i[0], up_i[-1], up_o[0], up_o[-1]):
            disp[c, 1] = corner_dy
        # Eyelids: the upper lid comes down 85% of the way, the lower rises 15%.
        for upper, lower in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
            u, l = np.asarray(upper[1:-1]), np.asarray(lower[1:-1])
            eye_gap = face[l, 1] - face[u, 1]
            disp[u, 1] = blink * 0.85 * eye_gap
            disp[l, 1] = -blink * 0.15 * eye_gap
        drop = 0.75 * gap.max()
        disp[:, 1] += self.jaw_weight * drop
        disp[self.spread_index] += self.spread_matrix @ disp[self.spread_drivers]
        return disp

    def target(self, mouth: np.ndarray, blink: float, head: np.ndarray) -> np.ndarray:
        """``(V, 2)`` target vertex positions for one frame (see ``MotionBlock`` for units)."""
        yaw, pitch, roll, tx, ty = (float(v) for v in head)
        out = self.source.copy()
        face = np.column_stack([self.source[: self.n_face] + self.local_displacement(mouth, blink), self.depth])
        if any((yaw, pitch, roll, tx, ty)):
            ry, rp, rr = np.radians([yaw, pitch, roll])
            cy_, sy_ = np.cos(ry), np.sin(ry)
            cp, sp = np.cos(rp), np.sin(rp)
            cr, sr = np.cos(rr), np.sin(rr)
            rot_y = np.array([[cy_, 0, sy_], [0, 1, 0], [-sy_, 0, cy_]])
            rot_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
            rot_z = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
            rot = rot_z @ rot_x @ rot_y
            moved = (face - self.pivot) @ rot.T + self.pivot
            moved[:, 0] += tx * self.face_width
            moved[:, 1] += ty * self.face_width
            head_disp = moved[:, :2] - face[:, :2]
            out[: self.n_face] = moved[:, :2]
            for sl, parent, follow in zip(self.ring_slices, self.ring_parent, RING_FOLLOW):
                out[sl] += follow * head_disp[parent]
        else:
            out[: self.n_face] = face[:, :2]
        return out
