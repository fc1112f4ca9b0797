"""Named landmark groups of MediaPipe FaceMesh (468 points + 10 iris points).

The ordered chains below are the standard FaceMesh index loops; a test checks
every consecutive pair against mediapipe's own connection sets, so a change in
mediapipe's topology cannot slip through unnoticed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

N_MESH = 468  # FaceMesh vertices; 468..477 are the refined iris points
N_LANDMARKS = 478

# Lips, each chain from the mouth corner at image-left (61 / 78) to the one at image-right (291 / 308).
LIPS_OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIPS_OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
MOUTH_CORNERS = (61, 291)

# Eyes, each chain from outer to inner corner; "a" is the eye on the image's left.
EYE_A_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]
EYE_A_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133]
EYE_B_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362]
EYE_B_LOWER = [263, 249, 390, 373, 374, 380, 381, 382, 362]
IRIS_A = [468, 469, 470, 471, 472]  # centre first
IRIS_B = [473, 474, 475, 476, 477]

# Face outline, a closed loop starting at the top of the forehead, going clockwise in the image.
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]
CHIN = 152
NOSE_TIP = 1
NOSE_BASE = 2  # subnasale, where the nose meets the upper lip


def _strip(upper: list[int], lower: list[int]) -> list[tuple[int, int, int]]:
    """Triangles filling the hole between two chains that share their end points."""
    tris = []
    for i in range(len(upper) - 1):
        u0, u1, l0, l1 = upper[i], upper[i + 1], lower[i], lower[i + 1]
        if u0 != l0:
            tris.append((u0, l0, u1))
        if u1 != l1:
            tris.append((u1, l0, l1))
        elif u0 == l0:  # both chains start at the shared corner
            pass
    return [t for t in tris if len(set(t)) == 3]


def hole_triangles() -> list[tuple[int, int, int]]:
    """Triangles that close the mouth and eye holes of the FaceMesh surface."""
    return (
        _strip(LIPS_INNER_UPPER, LIPS_INNER_LOWER)
        + _strip(EYE_A_UPPER, EYE_A_LOWER)
        + _strip(EYE_B_UPPER, EYE_B_LOWER)
    )


@lru_cache(maxsize=1)
def tessellation_triangles() -> np.ndarray:
    """FaceMesh's surface triangles, ``(852, 3) int32``, rebuilt from its edge list.

    mediapipe ships the tessellation as edges only. Every 3-cycle of edges is a
    triangle except the few "separating" 3-cycles that enclose a vertex; those
    are exactly the cycles whose three edges are each used by three or more
    cycles, so they are dropped.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    edges = {tuple(sorted(e)) for e in FACEMESH_TESSELATION}
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    cycles = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            cycles.add(tuple(sorted((a, b, c))))
    use: dict[tuple[int, int], int] = {}
    for a, b, c in cycles:
        for e in ((a, b), (a, c), (b, c)):
            use[e] = use.get(e, 0) + 1
    faces = [t for t in sorted(cycles) if not all(use[e] >= 3 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.asarray(faces, dtype=np.int32)
