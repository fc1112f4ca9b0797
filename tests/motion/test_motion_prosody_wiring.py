"""Prosody reaches the head: nods on pitch, calm in pauses, chunk by chunk, resumable."""

from __future__ import annotations

import copy

import numpy as np
import soundfile as sf

from talkcli.audio.phonemes import Phone, PhoneBatch
from talkcli.audio.plan import plan_blocks
from talkcli.motion.generator import MotionConfig, MotionGenerator
from talkcli.motion.prosody import chunk_prosody


def _batches(ends):
    return [PhoneBatch(end, [Phone("AA", end - 0.5, end - 0.2)], aligned=False) for end in ends]


def _run(plan, fpb_plan, prosody_fn, head_motion=1.0):
    gen = MotionGenerator(fpb_plan, _batches([2.0, 4.0, plan.n_samples / 16000]), MotionConfig(seed=3, head_motion=head_motion), prosody=prosody_fn)
    blocks = list(gen.blocks())
    return np.concatenate([b.head for b in blocks])


def test_nods_follow_the_prosody_source_and_scale_with_head_motion(example_face):
    n = 16000 * 5
    plan = plan_blocks(n, 16000, 25)
    nod = np.zeros(plan.n_frames, np.float32)
    nod[60] = 1.0

    def fake(start_s, end_s):
        f0, f1 = int(np.ceil(start_s * 25)), min(plan.n_frames, int(np.ceil(end_s * 25)))
        if end_s >= n / 16000:
            f1 = plan.n_frames
        return f0, nod[f0:f1], np.ones(f1 - f0, np.float32)

    with_nod = _run(plan, plan, fake)
    without = _run(plan, plan, None)
    diff = with_nod[:, 1] - without[:, 1]
    assert np.argmax(diff) == 60 and diff[60] == np.float32(2.0)
    assert np.allclose(np.delete(diff, 60), 0, atol=1e-5)
    assert not _run(plan, plan, fake, head_motion=0.0).any()


def test_real_prosody_is_the_same_streamed_one_shot_and_resumed(example_face):
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    plan4 = plan_blocks(len(speech), sr, 25, 4)
    plan_all = plan_blocks(len(speech), sr, 25, plan4.n_frames)
    source = chunk_prosody(speech, plan4)
    a = _run(plan4, plan4, source)
    b = _run(plan4, plan_all, source)
    np.testing.assert_array_equal(a, b)
    # Resume from a saved state after 30 blocks, with the batches not yet read.
    gen = MotionGenerator(plan4, _batches([2.0, 4.0, len(speech) / sr]), MotionConfig(seed=3), prosody=source)
    first = [gen.next_block(i).head for i in range(30)]
    state = copy.deepcopy(gen.state)
    rest_batches = [bt for bt in _batches([2.0, 4.0, len(speech) / sr]) if bt.end_s > state.phones_known_until_s]
    resumed = MotionGenerator(plan4, rest_batches, MotionConfig(seed=3), state=state, prosody=source)
    rest = [b.head for b in resumed.blocks()]
    np.testing.assert_array_equal(np.concatenate(first + rest), a)
