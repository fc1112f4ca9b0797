import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkcli.audio.plan import BlockPlan, frame_count, parse_fps, plan_blocks, samples_per_frame_exact
from talkcli.errors import ConfigError, ExitCode

RATE = 16000
TEN_HOURS = 10 * 3600 * RATE
FPS_VALUES = [24, 25, 30, 29.97, Fraction(30000, 1001), "30000/1001", 50, 60, 12.5]

fps_values = st.sampled_from(FPS_VALUES)
block_sizes = st.integers(min_value=1, max_value=8)


def _check_timing(plan: BlockPlan) -> None:
    # The video covers the audio and overshoots by less than one frame, exactly.
    audio = Fraction(plan.n_samples, plan.sample_rate)
    assert Fraction(plan.n_frames) / plan.fps >= audio
    assert Fraction(plan.n_frames - 1) / plan.fps < audio
    assert plan.n_frames == math.ceil(audio * parse_fps(plan.fps))
    assert plan.n_frames / float(plan.fps) - plan.duration_s < 1 / float(plan.fps)


@settings(max_examples=150, deadline=None)
@given(n_samples=st.integers(1, 3 * 60 * RATE), fps=fps_values, fpb=block_sizes)
def test_blocks_cover_every_frame_and_sample_once(n_samples, fps, fpb):
    plan = plan_blocks(n_samples, RATE, fps, fpb)
    _check_timing(plan)
    blocks = list(plan.blocks())
    assert len(blocks) == plan.n_blocks
    assert [b.index for b in blocks] == list(range(plan.n_blocks))

    frames = [f for b in blocks for f in b.frames]
    assert frames == list(range(plan.n_frames))
    assert all(1 <= b.n_frames <= fpb for b in blocks)
    assert all(b.n_frames == fpb for b in blocks[:-1])

    assert blocks[0].sample_start == 0
    assert blocks[-1].sample_end == n_samples
    for prev, nxt in zip(blocks, blocks[1:]):
        assert prev.sample_end == nxt.sample_start
    assert all(b.sample_start < b.sample_end for b in blocks)
    assert sum(b.sample_end - b.sample_start for b in blocks) == n_samples


@settings(max_examples=300, deadline=None)
@given(n_samples=st.integers(1, TEN_HOURS), fps=fps_values, fpb=block_sizes, data=st.data())
def test_long_clips_stay_frame_exact(n_samples, fps, fpb, data):
    # Ten hours is too many blocks to list per example: check the arithmetic
    # and the seams around a drawn block and the last one.
    plan = plan_blocks(n_samples, RATE, fps, fpb)
    _check_timing(plan)
    last = plan.block(plan.n_blocks - 1)
    assert last.first_frame + last.n_frames == plan.n_frames
    assert last.sample_end == n_samples
    i = data.draw(st.integers(0, plan.n_blocks - 1))
    block = plan.block(i)
    assert block.first_frame == i * fpb
    assert block.sample_start == min(i * fpb * RATE * plan.fps.denominator // plan.fps.numerator, n_samples)
    if i + 1 < plan.n_blocks:
        assert block.sample_end == plan.block(i + 1).sample_start
    assert plan.frame_sample(block.first_frame) == block.sample_start
    # frame_time is the exact start time, rounded once to a float.
    assert plan.frame_time(block.first_frame) == float(Fraction(block.first_frame) / plan.fps)


def test_ntsc_frames_start_on_exact_samples():
    plan = plan_blocks(10 * RATE, RATE, "30000/1001", frames_per_block=4)
    # 16000 * 1001 / 30000 = 533.866... samples per frame: frame 3 starts at 1601.6 -> 1601.
    assert [plan.frame_sample(i) for i in range(4)] == [0, 533, 1067, 1601]
    assert plan.n_frames == 300  # ceil(10 s * 29.97002997...) = ceil(299.7) = 300
    assert plan.frame_time(300) == pytest.approx(10.01)
    assert plan.block(0).sample_end == 2135


def test_frame_count_rounds_up_exactly():
    assert frame_count(16000, RATE, 25) == 25
    assert frame_count(16001, RATE, 25) == 26
    assert frame_count(0, RATE, 25) == 0
    # 29.97 read as a float must not become 29.969999999999998863...
    assert frame_count(100 * RATE, RATE, 29.97) == 2997
    assert frame_count(100 * RATE, RATE, "30000/1001") == 2998  # 2997.002997...


def test_samples_per_frame_exact():
    assert samples_per_frame_exact(16000, 25) == 640
    assert samples_per_frame_exact(16000, 50) == 320
    assert samples_per_frame_exact(48000, 24) == 2000
    with pytest.raises(ValueError, match="not a whole number"):
        samples_per_frame_exact(16000, 30)
    with pytest.raises(ValueError):
        samples_per_frame_exact(16000, "30000/1001")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("25", Fraction(25)),
        (25, Fraction(25)),
        (" 29.97 ", Fraction(2997, 100)),
        (29.97, Fraction(2997, 100)),
        ("30000/1001", Fraction(30000, 1001)),
        (Fraction(24000, 1001), Fraction(24000, 1001)),
        (12.5, Fraction(25, 2)),
        ("240", Fraction(240)),
    ],
)
def test_parse_fps(value, expected):
    assert parse_fps(value) == expected


@pytest.mark.parametrize("value", ["0", 0, -25, "241", 240.5, "abc", "", "25/0", float("nan"), float("inf"), True, None])
def test_parse_fps_rejects(value):
    with pytest.raises(ConfigError) as info:
        parse_fps(value)
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("n_samples", "fpb"), [(0, 4), (-1, 4), (16000, 0)])
def test_plan_blocks_rejects(n_samples, fpb):
    with pytest.raises(ConfigError):
        plan_blocks(n_samples, RATE, 25, fpb)


def test_block_and_frame_indices_are_checked():
    plan = plan_blocks(RATE, RATE, 25, 4)  # 25 frames, 7 blocks
    assert plan.n_blocks == 7
    assert plan.block(6).n_frames == 1
    with pytest.raises(IndexError):
        plan.block(7)
    with pytest.raises(IndexError):
        plan.frame_sample(26)
    assert plan.frame_sample(25) == RATE
