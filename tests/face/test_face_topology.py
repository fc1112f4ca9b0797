"""Landmark chains and the tessellation against mediapipe's own FaceMesh topology."""

from collections import Counter

import numpy as np
import pytest
from mediapipe.python.solutions import face_mesh_connections as mpc

from talkcli.face import topology as topo


def _undirected(connections) -> set[tuple[int, int]]:
    return {tuple(sorted(e)) for e in connections}


def _pairs(chain, closed=False):
    pairs = list(zip(chain[:-1], chain[1:]))
    if closed:
        pairs.append((chain[-1], chain[0]))
    return [tuple(sorted(p)) for p in pairs]


CHAINS = {
    "LIPS_OUTER_UPPER": (topo.LIPS_OUTER_UPPER, mpc.FACEMESH_LIPS, False),
    "LIPS_OUTER_LOWER": (topo.LIPS_OUTER_LOWER, mpc.FACEMESH_LIPS, False),
    "LIPS_INNER_UPPER": (topo.LIPS_INNER_UPPER, mpc.FACEMESH_LIPS, False),
    "LIPS_INNER_LOWER": (topo.LIPS_INNER_LOWER, mpc.FACEMESH_LIPS, False),
    # "a" is the eye on the image's left: the subject's right eye in mediapipe's naming.
    "EYE_A_UPPER": (topo.EYE_A_UPPER, mpc.FACEMESH_RIGHT_EYE, False),
    "EYE_A_LOWER": (topo.EYE_A_LOWER, mpc.FACEMESH_RIGHT_EYE, False),
    "EYE_B_UPPER": (topo.EYE_B_UPPER, mpc.FACEMESH_LEFT_EYE, False),
    "EYE_B_LOWER": (topo.EYE_B_LOWER, mpc.FACEMESH_LEFT_EYE, False),
    "IRIS_A": (topo.IRIS_A[1:], mpc.FACEMESH_RIGHT_IRIS, True),
    "IRIS_B": (topo.IRIS_B[1:], mpc.FACEMESH_LEFT_IRIS, True),
    "FACE_OVAL": (topo.FACE_OVAL, mpc.FACEMESH_FACE_OVAL, True),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_every_consecutive_pair_is_a_mediapipe_edge(name):
    chain, connections, closed = CHAINS[name]
    edges = _undirected(connections)
    missing = [p for p in _pairs(chain, closed) if p not in edges]
    assert missing == []
    assert len(set(chain)) == len(chain)  # no vertex twice


def test_chains_cover_mediapipe_contours_exactly():
    # The lip chains together are FACEMESH_LIPS; each eye's two chains are its contour; the
    # oval loop is FACEMESH_FACE_OVAL: nothing left out.
    lips = set()
    for c in (topo.LIPS_OUTER_UPPER, topo.LIPS_OUTER_LOWER, topo.LIPS_INNER_UPPER, topo.LIPS_INNER_LOWER):
        lips |= set(_pairs(c))
    assert lips == _undirected(mpc.FACEMESH_LIPS)
    assert set(_pairs(topo.EYE_A_UPPER) + _pairs(topo.EYE_A_LOWER)) == _undirected(mpc.FACEMESH_RIGHT_EYE)
    assert set(_pairs(topo.EYE_B_UPPER) + _pairs(topo.EYE_B_LOWER)) == _undirected(mpc.FACEMESH_LEFT_EYE)
    assert set(_pairs(topo.FACE_OVAL, closed=True)) == _undirected(mpc.FACEMESH_FACE_OVAL)


def test_upper_and_lower_chains_share_their_corners():
    for upper, lower in (
        (topo.LIPS_OUTER_UPPER, topo.LIPS_OUTER_LOWER),
        (topo.LIPS_INNER_UPPER, topo.LIPS_INNER_LOWER),
        (topo.EYE_A_UPPER, topo.EYE_A_LOWER),
        (topo.EYE_B_UPPER, topo.EYE_B_LOWER),
    ):
        assert upper[0] == lower[0] and upper[-1] == lower[-1]
        assert len(upper) == len(lower)
        assert set(upper[1:-1]).isdisjoint(lower[1:-1])
    assert topo.MOUTH_CORNERS == (topo.LIPS_OUTER_UPPER[0], topo.LIPS_OUTER_UPPER[-1])


def test_chain_directions_on_the_example_face(hopper):
    # The docstrings promise directions in the image; check them on a real face.
    lm = hopper.landmarks[:, :2].astype(np.float64)
    for chain in (topo.LIPS_OUTER_UPPER, topo.LIPS_INNER_UPPER, topo.LIPS_OUTER_LOWER, topo.LIPS_INNER_LOWER):
        assert lm[chain[0], 0] < lm[chain[-1], 0]  # image-left corner first
    mid = len(topo.LIPS_OUTER_UPPER) // 2
    assert lm[topo.LIPS_OUTER_UPPER[mid], 1] < lm[topo.LIPS_INNER_UPPER[mid], 1] <= lm[topo.LIPS_INNER_LOWER[mid], 1] + 1.0
    assert lm[topo.LIPS_INNER_LOWER[mid], 1] < lm[topo.LIPS_OUTER_LOWER[mid], 1]
    # Eyes: "a" on the image's left; each chain from outer to inner corner.
    a_outer, a_inner = lm[topo.EYE_A_UPPER[0]], lm[topo.EYE_A_UPPER[-1]]
    b_outer, b_inner = lm[topo.EYE_B_UPPER[0]], lm[topo.EYE_B_UPPER[-1]]
    assert a_outer[0] < a_inner[0] < b_inner[0] < b_outer[0]
    for upper, lower in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
        assert np.all(lm[upper[1:-1], 1] < lm[lower[1:-1], 1])
    # Oval: starts at the top of the forehead, clockwise on screen (y down: positive shoelace).
    oval = lm[topo.FACE_OVAL]
    assert lm[topo.FACE_OVAL[0], 1] == pytest.approx(oval[:, 1].min(), abs=2.0)
    x, y = oval[:, 0], oval[:, 1]
    assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    assert lm[topo.CHIN, 1] == pytest.approx(oval[:, 1].max(), abs=2.0)


@pytest.fixture(scope="module")
def tris():
    return topo.tessellation_triangles()


def _edge_use(triangles) -> Counter:
    use = Counter()
    for a, b, c in np.asarray(triangles):
        for e in ((a, b), (b, c), (a, c)):
            use[tuple(sorted(map(int, e)))] += 1
    return use


def test_tessellation_shape_and_vertices(tris):
    assert tris.shape == (852, 3) and tris.dtype == np.int32
    assert np.all(tris[:, 0] != tris[:, 1]) and np.all(tris[:, 1] != tris[:, 2]) and np.all(tris[:, 0] != tris[:, 2])
    assert set(np.unique(tris)) == set(range(topo.N_MESH))  # every mesh vertex used, no iris points
    assert len({tuple(sorted(t)) for t in tris.tolist()}) == 852  # no duplicates


def test_tessellation_is_a_manifold_made_of_mediapipe_edges(tris):
    use = _edge_use(tris)
    edges = _undirected(mpc.FACEMESH_TESSELATION)
    assert set(use) == edges  # every triangle edge is a mediapipe edge, and every edge is used
    assert max(use.values()) <= 2
    # The boundary (edges used once) is the face outline, the inner lips and the two eye contours.
    boundary = {e for e, n in use.items() if n == 1}
    expected = set(_pairs(topo.FACE_OVAL, closed=True)) | set(_pairs(topo.LIPS_INNER_UPPER)) | set(_pairs(topo.LIPS_INNER_LOWER))
    for c in (topo.EYE_A_UPPER, topo.EYE_A_LOWER, topo.EYE_B_UPPER, topo.EYE_B_LOWER):
        expected |= set(_pairs(c))
    assert boundary == expected
    # Euler characteristic of a disc with three holes (mouth, two eyes): V - E + F = 1 - 3.
    assert topo.N_MESH - len(use) + len(tris) == -2


def test_holes_close_the_mesh_into_a_disc(tris):
    holes = np.asarray(topo.hole_triangles(), dtype=np.int32)
    assert holes.shape[1] == 3
    assert len(holes) == 2 * (len(topo.LIPS_INNER_UPPER) - 2) + 4 * (len(topo.EYE_A_UPPER) - 2)
    everything = np.concatenate([tris, holes])
    use = _edge_use(everything)
    assert max(use.values()) <= 2
    boundary = {e for e, n in use.items() if n == 1}
    assert boundary == set(_pairs(topo.FACE_OVAL, closed=True))
    assert topo.N_MESH - len(use) + len(everything) == 1  # a disc


def test_holes_do_not_overlap_on_the_example_face(hopper):
    # Filled holes must tile the eye and mouth openings without overlap: their areas sum to the
    # area inside the contour (checked on the eyes, which are open in the photo).
    lm = hopper.landmarks[:, :2].astype(np.float64)
    holes = np.asarray(topo.hole_triangles())
    for upper, lower in ((topo.EYE_A_UPPER, topo.EYE_A_LOWER), (topo.EYE_B_UPPER, topo.EYE_B_LOWER)):
        mine = [t for t in holes if set(t) <= set(upper) | set(lower)]
        p = lm[np.asarray(mine)]
        area = np.abs(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])).sum() / 2
        loop = lm[list(upper) + list(lower[::-1][1:-1])]
        x, y = loop[:, 0], loop[:, 1]
        polygon = abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) / 2
        assert area == pytest.approx(polygon, rel=1e-6)
