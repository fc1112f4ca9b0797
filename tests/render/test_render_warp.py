"""triangle_affines, MeshWarper.backward_map, remap, and the torch resampling path."""

import numpy as np
import pytest
import torch

from talkcli.errors import EnvironmentProblem, ExitCode
from talkcli.render import device as device_mod
from talkcli.render.device import TorchRemap, resolve_device
from talkcli.render.rig import FaceRig
from talkcli.render.warp import MeshWarper, remap, triangle_affines


def _apply(m, pts):
    """[x, y, 1] @ M for each triangle's points: m (T, 3, 2), pts (T, k, 2)."""
    return np.einsum("tkj,tjl->tkl", np.concatenate([pts, np.ones(pts.shape[:2] + (1,))], axis=2), m)


def _bilinear(img, mx, my):
    """Exact float bilinear sampling with replicated edges (the reference for both remaps)."""
    h, w = img.shape[:2]
    x = np.clip(mx.astype(np.float64), 0, w - 1)
    y = np.clip(my.astype(np.float64), 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    i = img.astype(np.float64)
    return i[y0, x0] * (1 - fx) * (1 - fy) + i[y0, x1] * fx * (1 - fy) + i[y1, x0] * (1 - fx) * fy + i[y1, x1] * fx * fy


@pytest.fixture(scope="module")
def rig(hopper_crop):
    _, _, crop, lm = hopper_crop
    return FaceRig.build(lm, crop.shape[0])


@pytest.fixture(scope="module")
def strong_target(rig):
    """A frame far from rest: mouth wide open and round, eyes shut, head turned."""
    return rig.target(np.array([1.0, 0.6, 0.3, 0.0]), 1.0, np.array([3.0, 2.0, 2.0, 0.01, 0.01]))


def test_triangle_affines_map_target_vertices_to_source_vertices(rig, strong_target):
    tris = rig.triangles
    t, s = strong_target[tris], rig.source[tris]
    area = np.abs(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]))
    ok = area > 1e-3  # degenerate targets cover no pixels; their affine is never used
    assert ok.mean() > 0.9
    m = triangle_affines(strong_target, rig.source, tris)
    assert m.shape == (len(tris), 3, 2)
    np.testing.assert_allclose(_apply(m[ok], t[ok]), s[ok], atol=1e-6)


def test_triangle_affines_on_random_triangles():
    rng = np.random.default_rng(4)
    target = rng.uniform(0, 500, (300, 2))
    source = rng.uniform(0, 500, (300, 2))
    tris = rng.integers(0, 300, (500, 3))
    tris = tris[(tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])]
    m = triangle_affines(target, source, tris)
    np.testing.assert_allclose(_apply(m, target[tris]), source[tris], atol=1e-6)
    # Any point of a triangle maps to the same barycentric combination of the source.
    w = rng.dirichlet([1, 1, 1], len(tris))
    inside_t = np.einsum("tk,tkj->tj", w, target[tris])[:, None]
    inside_s = np.einsum("tk,tkj->tj", w, source[tris])
    np.testing.assert_allclose(_apply(m, inside_t)[:, 0], inside_s, atol=1e-6)


def test_identity_target_gives_an_identity_map(rig):
    size = rig.size
    mx, my = MeshWarper(size, rig.triangles).backward_map(rig.source, rig.source)
    assert mx.shape == my.shape == (size, size) and mx.dtype == np.float32
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
    inner = (slice(1, size - 1), slice(1, size - 1))
    np.testing.assert_allclose(mx[inner], gx[inner], atol=2e-3)
    np.testing.assert_allclose(my[inner], gy[inner], atol=2e-3)


@pytest.mark.parametrize("map_scale", [0.5, 1.0])
def test_translated_square_gives_a_shifted_map(map_scale):
    size = 64
    source = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], float)
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    shift = np.array([3.25, -2.5])
    mx, my = MeshWarper(size, tris, map_scale=map_scale).backward_map(source + shift, source)
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
    inner = (slice(4, size - 4), slice(5, size - 5))
    np.testing.assert_allclose(mx[inner], gx[inner] - shift[0], atol=1e-3)
    np.testing.assert_allclose(my[inner], gy[inner] - shift[1], atol=1e-3)
    # Where no triangle covers the output, the map is the identity. (At map_scale < 1 the
    # outermost row and column come from clamping the coarse map, half a pixel inwards.)
    edge_tol = 1e-3 if map_scale == 1.0 else 0.5 + 1e-3
    np.testing.assert_allclose(mx[-1, 10:50], gx[-1, 10:50], atol=edge_tol)
    np.testing.assert_allclose(my[-1, 10:50], gy[-1, 10:50], atol=edge_tol)


def test_warped_image_moves_features_with_the_mesh(rig, hopper_crop):
    # Centres of big skin triangles: the target centre samples the source centre.
    _, _, crop, _ = hopper_crop
    target = rig.target(np.array([1.0, 0.0, 0.0, 0.0]), 0.0, np.array([0, 0, 0, 0.03, 0.0]))
    mx, my = MeshWarper(rig.size, rig.triangles, map_scale=1.0).backward_map(target, rig.source)
    tess = rig.triangles[-852:]
    t, s = target[tess], rig.source[tess]
    area = np.abs(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])) / 2
    ok = area > 30
    assert ok.sum() > 100
    ct = t[ok].mean(axis=1)
    cs = s[ok].mean(axis=1)
    px = np.round(ct).astype(int)
    got = np.stack([mx[px[:, 1], px[:, 0]], my[px[:, 1], px[:, 0]]], axis=1)
    expected = cs + (px - ct) * 1.0  # the affine is close to a shift inside a skin triangle
    assert np.median(np.linalg.norm(got - expected, axis=1)) < 0.3


def test_remap_samples_bilinearly_with_replicated_edges(hopper_crop):
    _, _, crop, _ = hopper_crop
    gy, gx = np.mgrid[0:256, 0:256].astype(np.float32)
    np.testing.assert_array_equal(remap(crop, gx, gy), crop)
    out = remap(crop, gx + 0.5, gy)
    ref = _bilinear(crop, gx + 0.5, gy)
    assert np.abs(out - ref).max() <= 1.0
    edge = remap(crop, np.full_like(gx, -40.0), gy)
    np.testing.assert_array_equal(edge, np.repeat(crop[:, :1], 256, axis=1))


def _maps(rig, target, map_scale=0.5):
    return MeshWarper(rig.size, rig.triangles, map_scale=map_scale).backward_map(target, rig.source)


def test_torch_remap_on_cpu_matches_exact_bilinear(rig, hopper_crop, strong_target):
    _, _, crop, _ = hopper_crop
    mx, my = _maps(rig, strong_target)
    out = TorchRemap(crop, "cpu")(mx, my)
    assert out.shape == crop.shape and out.dtype == np.uint8
    err = np.abs(out - _bilinear(crop, mx, my))
    assert err.max() <= 1.0
    assert np.mean(err <= 0.5 + 1e-2) >= 0.999  # correctly rounded float bilinear
    # Outside the crop the edge is replicated, as with cv2.BORDER_REPLICATE.
    gy, gx = np.mgrid[0:256, 0:256].astype(np.float32)
    far_x, far_y = gx * 1.5 - 60.0, gy * 1.3 - 30.5
    out = TorchRemap(crop, "cpu")(far_x, far_y)
    assert np.abs(out - _bilinear(crop, far_x, far_y)).max() <= 1.0
    assert np.mean(np.abs(out.astype(np.int16) - remap(crop, far_x, far_y)) <= 1) >= 0.99


def test_torch_remap_on_cpu_matches_opencv_remap(rig, hopper_crop, strong_target):
    _, _, crop, _ = hopper_crop
    tr = TorchRemap(crop, "cpu")
    # Near rest the two agree to one grey level everywhere.
    mx, my = _maps(rig, rig.target(np.zeros(4), 0.0, np.zeros(5)))
    d = np.abs(tr(mx, my).astype(np.int16) - remap(crop, mx, my))
    assert d.max() <= 1
    # On a strong warp OpenCV's fixed-point bilinear (coordinates in 1/32 pixel) differs from the
    # exact result by up to a few levels on sharp edges: compare at that tolerance.
    mx, my = _maps(rig, strong_target)
    d = np.abs(tr(mx, my).astype(np.int16) - remap(crop, mx, my))
    assert np.mean(d <= 1) >= 0.99
    assert np.mean(d <= 2) >= 0.999
    assert d.max() <= 8  # 255 / 32


def test_resolve_device_cpu():
    assert resolve_device("cpu") == "cpu"


def test_resolve_device_cuda_without_a_gpu_is_an_environment_problem(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EnvironmentProblem, match="sees no CUDA GPU") as info:
        resolve_device("cuda")
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "--device cpu" in info.value.hint
    assert resolve_device("auto") == "cpu"


def test_resolve_device_auto_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_resolve_device_without_torch(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("no torch here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert device_mod.resolve_device("auto") == "cpu"
    with pytest.raises(EnvironmentProblem, match="needs torch"):
        device_mod.resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_remap_on_cuda_matches_cpu(rig, hopper_crop, strong_target):
    _, _, crop, _ = hopper_crop
    mx, my = _maps(rig, strong_target)
    a = TorchRemap(crop, "cpu")(mx, my).astype(np.int16)
    b = TorchRemap(crop, "cuda")(mx, my).astype(np.int16)
    assert np.abs(a - b).max() <= 1
    assert np.mean(a == b) >= 0.999


def test_fine_boxes_are_rasterised_at_full_resolution(rig, strong_target):
    box = (100, 140, 160, 190)
    coarse = _maps(rig, strong_target)
    full = _maps(rig, strong_target, map_scale=1.0)
    mixed = MeshWarper(rig.size, rig.triangles).backward_map(strong_target, rig.source, fine=[box, (-5, -5, 0, 0)])
    x0, y0, x1, y1 = box
    inside = (slice(y0, y1), slice(x0, x1))
    outside = np.ones((rig.size, rig.size), bool)
    outside[inside] = False
    for got, exact, rough in zip(mixed, full, coarse):
        np.testing.assert_array_equal(got[inside], exact[inside])
        np.testing.assert_array_equal(got[outside], rough[outside])
    # The box sits in the face: the two maps differ there (the test would not notice otherwise).
    assert max(np.abs(c[inside] - f[inside]).max() for c, f in zip(coarse, full)) > 0.1
