"""GfpganEnhancer on crops (tiny weights through the real loading path), and on a short render."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from talkcli.enhance.enhancer import (
    FFHQ_FIVE_POINTS_512,
    GfpganEnhancer,
    estimate_seconds,
    five_points,
    long_run_warning,
)
from talkcli.errors import ConfigError

EXAMPLE_FACE = Path(__file__).resolve().parents[2] / "examples" / "face.jpg"


def _crops(n: int, side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def enhancer(tiny_weights):
    return GfpganEnhancer(tiny_weights, device="cpu", strength=1.0, batch_size=2, config="tiny")


@pytest.mark.parametrize("side", [48, 96])  # smaller and larger than the network's 64 (64 itself: below)
def test_output_has_the_input_shape_and_dtype(enhancer, side):
    crops = _crops(2, side)
    out = enhancer.enhance(crops)
    assert out.shape == crops.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - crops.astype(int)).mean() > 5  # the network did something


def test_strength_zero_returns_the_input_exactly(tiny_weights):
    crops = _crops(3, 64)
    out = GfpganEnhancer(tiny_weights, strength=0.0, config="tiny").enhance(crops)
    assert np.array_equal(out, crops)
    assert out is not crops


def test_strength_blends_linearly_between_input_and_restored(tiny_weights, enhancer):
    crops = _crops(2, 64, seed=1)
    full = enhancer.enhance(crops).astype(np.float64)
    half = GfpganEnhancer(tiny_weights, strength=0.5, batch_size=2, config="tiny").enhance(crops).astype(np.float64)
    assert np.abs(half - (full + crops) / 2).max() <= 1.0


def test_batching_does_not_change_the_result(tiny_weights, enhancer):
    crops = _crops(2, 64, seed=2)
    one_by_one = GfpganEnhancer(tiny_weights, strength=1.0, batch_size=1, config="tiny").enhance(crops)
    assert np.abs(enhancer.enhance(crops).astype(int) - one_by_one.astype(int)).max() <= 1


def test_progress_is_cumulative_per_batch_and_time_per_frame_is_measured(tiny_weights):
    e = GfpganEnhancer(tiny_weights, batch_size=2, config="tiny")
    assert e.seconds_per_frame is None
    seen = []
    out = e.enhance(_crops(3, 64), progress=seen.append)
    assert seen == [2, 3] and len(out) == 3
    assert e.frames_done == 3 and e.seconds_per_frame > 0


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan")])
def test_strength_outside_0_to_1_is_a_config_error(tiny_weights, strength):
    with pytest.raises(ConfigError):
        GfpganEnhancer(tiny_weights, strength=strength, config="tiny")


def test_crops_must_be_square_rgb_uint8(enhancer):
    with pytest.raises(ValueError):
        enhancer.enhance(np.zeros((2, 64, 48, 3), np.uint8))
    with pytest.raises(ValueError):
        enhancer.enhance(np.zeros((2, 64, 64, 3), np.float32))


def test_aligned_with_the_template_already_matches_the_plain_resize_inside_the_feather(tiny_weights, enhancer):
    crops = _crops(2, 64, seed=3)
    points = FFHQ_FIVE_POINTS_512 * (64 / 512)  # the crop is already FFHQ-aligned: the warp is the identity
    aligned = GfpganEnhancer(tiny_weights, batch_size=2, face_points=points, config="tiny").enhance(crops)
    plain = enhancer.enhance(crops)
    inner = slice(6, -6)  # the aligned square fades out over its outer 64/16 = 4 px
    assert np.abs(aligned[:, inner, inner].astype(int) - plain[:, inner, inner].astype(int)).max() <= 2
    assert np.array_equal(aligned[:, 0, 0], (crops[:, 0, 0]))  # the very corner is fully faded out


def test_aligned_face_is_restored_and_the_rest_of_the_crop_kept(tiny_weights):
    side = 96
    crops = _crops(2, side, seed=4)
    points = FFHQ_FIVE_POINTS_512 * (side / 512) * 0.5 + side / 4  # the face fills the centre half of the crop
    out = GfpganEnhancer(tiny_weights, batch_size=2, face_points=points, config="tiny").enhance(crops)
    assert out.shape == crops.shape
    q = side // 4
    keep = np.ones((side, side), bool)
    keep[q - 1 : side - q + 1, q - 1 : side - q + 1] = False  # the aligned square's footprint (+1 px for bilinear)
    assert np.array_equal(out[:, keep], crops[:, keep])
    centre = slice(q + 4, side - q - 4)
    assert np.abs(out[:, centre, centre].astype(int) - crops[:, centre, centre].astype(int)).mean() > 5


def test_five_points_from_facemesh_landmarks():
    from talkcli.face import topology as topo

    lm = np.zeros((478, 3))
    lm[topo.EYE_A_UPPER + topo.EYE_A_LOWER, :2] = (10, 20)
    lm[topo.EYE_B_UPPER + topo.EYE_B_LOWER, :2] = (30, 20)
    lm[topo.NOSE_TIP, :2] = (20, 30)
    lm[list(topo.MOUTH_CORNERS), :2] = [(12, 40), (28, 40)]
    assert np.allclose(five_points(lm), [(10, 20), (30, 20), (20, 30), (12, 40), (28, 40)])


def test_up_front_warning_only_when_cpu_time_is_long():
    minute_at_25fps = 1500
    text = long_run_warning(minute_at_25fps, "cpu", threads=2)
    assert text is not None and "1500 frames" in text and "~3.5 s per frame" in text and "--device cuda" in text
    assert "about 88 min" in text  # 1500 x 7 CPU-s / 2 threads
    assert long_run_warning(10, "cpu", threads=2) is None
    assert long_run_warning(minute_at_25fps, "cuda") is None
    assert estimate_seconds(100, "cpu", threads=4) == pytest.approx(100 * estimate_seconds(1, "cpu", threads=4))
    assert estimate_seconds(10, "cpu", threads=4) == pytest.approx(estimate_seconds(10, "cpu", threads=2) / 2)
    assert estimate_seconds(1, "cpu", out_size=64, threads=2) < estimate_seconds(1, "cpu", threads=2)


@pytest.mark.slow
def test_short_render_enhances_each_crop_before_paste_back(tmp_path, tiny_weights):
    """Render crops, enhance them block by block, paste back and encode, through the pipeline's
    own enhance stage and each crop's own paste data."""
    from talkcli.face.crop import face_crop
    from talkcli.face.detect import FaceLandmarker
    from talkcli.face.image import load_image
    from talkcli.motion.generator import MotionBlock
    from talkcli.mux.ffmpeg import probe, read_frames
    from talkcli.mux.writer import VideoWriter
    from talkcli.pipeline import Enhance
    from talkcli.render.frames import FrameRenderer
    from talkcli.timing import Clock
    from talkcli.render.paste import PasteBack

    photo = load_image(EXAMPLE_FACE)
    with FaceLandmarker() as lm:
        face = lm.faces(photo)[0]
    geometry = face_crop(face.landmarks, photo.shape, 128)
    paste = PasteBack(photo, geometry)
    crop_landmarks = geometry.to_crop(face.landmarks)
    renderer = FrameRenderer(geometry.crop(photo), crop_landmarks, detail=paste.detail)
    enhancer = GfpganEnhancer(tiny_weights, strength=0.7, batch_size=4, face_points=five_points(crop_landmarks), config="tiny")
    stage = Enhance(enhancer, 8, Clock(), lambda event: None)

    n_blocks, per_block = 2, 4
    out = tmp_path / "enhanced.mp4"
    height, width = paste.shape
    written = []
    with VideoWriter(out, width, height, Fraction(25), None, preset="ultrafast", crf=18) as writer:
        for b in range(n_blocks):
            jaw = np.linspace(0.0, 1.0, per_block, dtype=np.float32) if b % 2 == 0 else np.zeros(per_block, np.float32)
            block = MotionBlock(
                first_frame=b * per_block,
                mouth=np.stack([jaw, np.zeros_like(jaw), np.zeros_like(jaw), np.zeros_like(jaw)], axis=1),
                blink=np.zeros(per_block, np.float32),
                head=np.zeros((per_block, 5), np.float32),
            )
            crops = list(renderer.crops(block))
            enhanced = stage(crops)
            assert len(enhanced) == len(crops) and not np.array_equal(enhanced[-1].image, crops[-1].image)
            for e, c in zip(enhanced, crops):  # each keeps its own paste data; what paste-back computes grows
                assert e.paste.map_x is c.paste.map_x and e.paste.layers is c.paste.layers
                if c.paste.changed is not None and e.paste.changed is not None:
                    (a0, b0, a1, b1), (c0, d0, c1, d1) = e.paste.changed, c.paste.changed
                    assert a0 <= c0 and b0 <= d0 and a1 >= c1 and b1 >= d1
            for crop in enhanced:
                frame = paste.paste_frame(crop)
                written.append(frame)
                writer.write(frame)
    info = probe(out)
    assert info.video.n_frames == n_blocks * per_block
    assert (info.video.width, info.video.height) == (width, height)
    decoded = list(read_frames(out))
    assert len(decoded) == len(written)
    # What was encoded is the enhanced paste-back (x264 at crf 18 is close, not exact).
    assert np.mean([np.abs(d.astype(int) - w.astype(int)).mean() for d, w in zip(decoded, written)]) < 3.0
    assert enhancer.frames_done == n_blocks * per_block
