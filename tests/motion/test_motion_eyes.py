"""Gaze drift and blinks: small, seeded, the same streamed or in one piece, still at --head-motion 0."""

from __future__ import annotations

import numpy as np

from talkcli.audio.plan import plan_blocks
from talkcli.motion.generator import MotionConfig, MotionGenerator


def _gaze_blink(fpb: int, cfg: MotionConfig, seconds: int = 20):
    plan = plan_blocks(seconds * 16000, 16000, 25, fpb)
    blocks = list(MotionGenerator(plan, [], cfg).blocks())
    return np.concatenate([b.gaze for b in blocks]), np.concatenate([b.blink for b in blocks])


def test_gaze_drifts_and_jumps_within_a_small_range():
    gaze, _ = _gaze_blink(4, MotionConfig(seed=5))
    assert np.abs(gaze).max() < 0.12  # eye widths: glances, not rolling eyes
    assert np.abs(gaze[:, 0]).max() > 0.01  # it does move
    jumps = np.linalg.norm(np.diff(gaze, axis=0), axis=1)
    assert (jumps > 0.01).sum() >= 3  # a few saccades in 20 s
    assert np.median(jumps) < 0.005  # and holds still between them


def test_eyes_are_the_same_streamed_and_in_one_piece_and_seeded():
    a = _gaze_blink(1, MotionConfig(seed=2))
    b = _gaze_blink(500, MotionConfig(seed=2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], _gaze_blink(1, MotionConfig(seed=3))[0])


def test_blinks_close_fast_and_open_slowly():
    _, blink = _gaze_blink(4, MotionConfig(seed=1))
    peaks = np.flatnonzero((blink[1:-1] >= blink[:-2]) & (blink[1:-1] > blink[2:]) & (blink[1:-1] > 0.9)) + 1
    assert len(peaks) >= 2
    for p in peaks:
        rise = p - np.flatnonzero(blink[:p] < 0.05)[-1]
        after = np.flatnonzero(blink[p:] < 0.05)
        fall = after[0] if len(after) else len(blink) - p
        assert rise <= fall


def test_head_motion_zero_keeps_the_eyes_still_too():
    gaze, blink = _gaze_blink(4, MotionConfig(seed=1, head_motion=0.0))
    assert not gaze.any() and not blink.any()
