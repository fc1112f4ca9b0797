"""The compiled loops (render.kernels) against plain numpy references written out here."""

import numpy as np
import pytest

from talkcli.render.rig import FOLD_ITERATIONS, FOLD_TOLERANCE, FaceRig, _signed_area
from talkcli.render.warp import MeshWarper, triangle_affines


@pytest.fixture(scope="module")
def rig(hopper_crop):
    _, _, crop, lm = hopper_crop
    return FaceRig.build(lm, crop.shape[0])


def _reference_map(target, source, tris, size):
    """Per pixel centre, the affine of the last triangle containing it (identity where none does),
    with inside-ness decided from barycentric coordinates; also a mask of pixels within 1e-6 px
    of some triangle's edge, where either neighbour is a right answer."""
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    mx, my = gx.copy(), gy.copy()
    near_edge = np.zeros((size, size), bool)
    aff = triangle_affines(target, source, tris)
    for k, (a, b, c) in enumerate(target[tris]):
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area) < 1e-9:
            continue
        x0, y0 = np.maximum(np.ceil(np.minimum(np.minimum(a, b), c)).astype(int), 0)
        x1, y1 = np.minimum(np.floor(np.maximum(np.maximum(a, b), c)).astype(int), size - 1)
        if x0 > x1 or y0 > y1:
            continue
        px, py = gx[y0:y1 + 1, x0:x1 + 1], gy[y0:y1 + 1, x0:x1 + 1]
        edges = []
        for p, q in ((a, b), (b, c), (c, a)):
            e = ((q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0])) / area
            edges.append(e / (np.hypot(*(q - p)) / abs(area)))  # signed distance to the edge, inside > 0
        inside = np.all([e >= -1e-6 for e in edges], axis=0)
        near_edge[y0:y1 + 1, x0:x1 + 1] |= inside & np.any([np.abs(e) < 1e-6 for e in edges], axis=0)
        m = aff[k]
        sub_x, sub_y = mx[y0:y1 + 1, x0:x1 + 1], my[y0:y1 + 1, x0:x1 + 1]
        sub_x[inside] = (px * m[0, 0] + py * m[1, 0] + m[2, 0])[inside]
        sub_y[inside] = (px * m[0, 1] + py * m[1, 1] + m[2, 1])[inside]
    return mx, my, near_edge


def test_rasterised_map_equals_the_per_pixel_reference(rig):
    target = rig.target(np.array([1.0, 0.6, 0.3, 0.0]), 1.0, np.array([3.0, 2.0, 2.0, 0.01, 0.01]))
    mx, my = MeshWarper(rig.size, rig.triangles, map_scale=1.0).backward_map(target, rig.source)
    rx, ry, near_edge = _reference_map(target, rig.source, rig.triangles, rig.size)
    far = ~near_edge
    assert far.mean() > 0.97  # pixel centres on the crop's edge lie on the border ring's edges
    np.testing.assert_allclose(mx[far], rx[far], atol=2e-3)
    np.testing.assert_allclose(my[far], ry[far], atol=2e-3)


def test_rasterised_map_has_no_cracks_between_triangles():
    # A fan of thin triangles around a centre with irrational coordinates: every pixel inside
    # the fan must take some triangle's (here: the same) affine, none the identity fallback.
    size = 48
    centre = np.array([23.7071067, 24.3141592])
    angles = np.linspace(0, 2 * np.pi, 41)[:-1]
    ring = centre + 20.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    source = np.vstack([centre, ring])
    tris = np.array([[0, 1 + i, 1 + (i + 1) % 40] for i in range(40)])
    shift = np.array([0.5, -0.25])
    mx, my = MeshWarper(size, tris, map_scale=1.0).backward_map(source + shift, source)
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
    inside = np.hypot(gx - centre[0] - shift[0], gy - centre[1] - shift[1]) < 18.0
    np.testing.assert_allclose(mx[inside], gx[inside] - shift[0], atol=1e-3)
    np.testing.assert_allclose(my[inside], gy[inside] - shift[1], atol=1e-3)


def _reference_relax(rig, target):
    """The relaxation as first written in numpy (sparse products, fancy indexing)."""
    def folded(t):
        return np.flatnonzero(_signed_area(t, rig._fold_tris) * rig._fold_sign < -FOLD_TOLERANCE)

    bad = folded(target)
    if len(bad) == 0:
        return target
    best, best_n = target, len(bad)
    disp = target - rig.source
    adj, tris, n = rig._neighbours, rig._fold_tris, len(disp)
    for _ in range(FOLD_ITERATIONS):
        t = tris[bad]
        p, q = rig.source[t], rig.source[t] + disp[t]
        pc, qc = p - p.mean(axis=1, keepdims=True), q - q.mean(axis=1, keepdims=True)
        a = np.sum(pc * qc, axis=(1, 2))
        b = np.sum(pc[..., 0] * qc[..., 1] - pc[..., 1] * qc[..., 0], axis=1)
        norm = np.maximum(np.sum(pc * pc, axis=(1, 2)), 1e-12)
        c, s = a / norm, b / norm
        goal = q.mean(axis=1, keepdims=True) + np.stack(
            [c[:, None] * pc[..., 0] - s[:, None] * pc[..., 1], s[:, None] * pc[..., 0] + c[:, None] * pc[..., 1]], axis=-1)
        acc, cnt = np.zeros((n, 2)), np.zeros(n)
        np.add.at(acc, t.ravel(), (goal - p).reshape(-1, 2))
        np.add.at(cnt, t.ravel(), 1.0)
        hit = (cnt > 0) & rig._movable
        disp[hit] = 0.5 * disp[hit] + 0.5 * acc[hit] / cnt[hit, None]
        ring = ((adj @ hit.astype(np.float64)) > 0) & rig._movable & ~hit
        disp[ring] = 0.5 * disp[ring] + 0.5 * (adj @ disp)[ring]
        target = rig.source + disp
        bad = folded(target)
        if len(bad) < best_n:
            best, best_n = target, len(bad)
        if len(bad) == 0:
            break
    return best


RELAX_CASES = [
    ([1.0, 0.0, 0.0, 0.0], 0.0, [0, 0, 0, 0, 0]),
    ([1.0, 0.6, 0.3, 0.0], 1.0, [3, 2, 2, 0.01, 0.01]),
    ([0.4, 0.0, 0.0, 1.0], 0.5, [-5, -4, 1.5, 0, 0]),
]


def _raw(rig, mouth, blink, head):
    """The rig's target before any fold repair."""
    rig.unfold = lambda t: t
    try:
        return rig.target(np.asarray(mouth, float), blink, np.asarray(head, float))
    finally:
        del rig.unfold


@pytest.mark.parametrize("mouth, blink, head", RELAX_CASES)
def test_compiled_relaxation_equals_the_numpy_reference(rig, mouth, blink, head):
    raw = _raw(rig, mouth, blink, head)
    assert len(rig.folded(raw, FOLD_TOLERANCE)) > 0  # something to relax
    relaxed = rig._relax(raw)
    np.testing.assert_allclose(relaxed, _reference_relax(rig, raw.copy()), atol=1e-9)
    fixed = ~rig._movable
    np.testing.assert_array_equal(relaxed[fixed], raw[fixed])


def test_the_relaxation_moves_vertices_in_some_case(rig):
    # Where no sweep lowers the fold count, the input comes back unchanged; the comparison
    # above must not pass on that alone.
    assert any(not np.array_equal(rig._relax(raw), raw) for raw in (_raw(rig, *case) for case in RELAX_CASES))


@pytest.mark.parametrize("reveal", [0, 100, 256])
def test_composite_matches_the_float_blend_and_is_exact_where_one_layer_shows(reveal):
    from talkcli.render.kernels import composite_head

    rng = np.random.default_rng(reveal)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    background = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    rgba = np.dstack([frame, rng.integers(0, 256, (40, 50), dtype=np.uint8)])
    rgba[:10, :, 3], rgba[10:20, :, 3] = 0, 255
    alpha = rgba[..., 3]  # a strided view, as the renderer passes it
    out = frame.copy()
    composite_head(out, alpha, crop, background, reveal)
    k = reveal / 256
    still = crop * (1 - k) + background * k
    a = alpha[..., None] / 255.0
    expected = frame * a + still * (1 - a)
    assert np.abs(out - expected).max() <= 1.0
    np.testing.assert_array_equal(out[10:20], frame[10:20])  # the head alone
    if reveal == 0:
        np.testing.assert_array_equal(out[:10], crop[:10])  # the photo itself
    if reveal == 256:
        np.testing.assert_array_equal(out[:10], background[:10])
