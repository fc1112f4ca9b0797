"""MotionGenerator: streamed == one-shot, exact resume from carried state, seeds, closures, blinks."""

import copy
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkcli.audio.phonemes import Phone, PhoneBatch
from talkcli.audio.plan import plan_blocks
from talkcli.motion.generator import MotionConfig, MotionGenerator, MotionState

RATE = 16000
VOWELS = ["AA", "AE", "IY", "EH", "UW", "OW", "AH", "AO"]
CONSONANTS = ["M", "B", "P", "F", "V", "TH", "DH", "S", "T", "K", "L", "N", "W", "R", "SH"]


def synthetic_speech(duration_s: float, seed: int, chunk_s: float = 2.7) -> list[PhoneBatch]:
    """Random phones (CV syllables with pauses) cut into batches the way phone_batches yields them:
    each batch's phones lie before its end_s, and batches tile the clip."""
    rng = np.random.default_rng(seed)
    phones = []
    t = 0.15
    while t < duration_s - 0.3:
        if rng.random() < 0.12:
            name, d = ("SIL" if rng.random() < 0.5 else "+NOISE+"), rng.uniform(0.15, 0.5)
        elif rng.random() < 0.5:
            name, d = rng.choice(VOWELS), rng.uniform(0.06, 0.22)
        else:
            name, d = rng.choice(CONSONANTS), rng.uniform(0.03, 0.12)
        phones.append(Phone(str(name), round(t, 2), round(min(t + d, duration_s), 2)))
        t += d
    batches = []
    edges = list(np.arange(chunk_s, duration_s, chunk_s)) + [duration_s]
    start = 0.0
    for end in edges:
        inside = [p for p in phones if start <= p.start_s < end]
        # A phone never straddles a chunk boundary: clip it there.
        inside = [Phone(p.name, p.start_s, min(p.end_s, end)) for p in inside]
        batches.append(PhoneBatch(float(end), inside, aligned=False))
        start = end
    return batches


def run(plan, batches, cfg=None, state=None):
    gen = MotionGenerator(plan, batches, cfg or MotionConfig(), state=state)
    blocks = list(gen.blocks())
    return blocks, gen


def stack(blocks):
    return (
        np.concatenate([b.mouth for b in blocks]),
        np.concatenate([b.blink for b in blocks]),
        np.concatenate([b.head for b in blocks]),
    )


def assert_same(a, b):
    for x, y in zip(stack(a) if isinstance(a, list) else a, stack(b) if isinstance(b, list) else b):
        np.testing.assert_array_equal(x, y)


DURATION = 8.0
N = int(DURATION * RATE)


@pytest.fixture(scope="module")
def speech():
    return synthetic_speech(DURATION, seed=3)


@pytest.fixture(scope="module")
def one_shot(speech):
    plan = plan_blocks(N, RATE, 25, frames_per_block=200)  # one block holds all 200 frames
    assert plan.n_blocks == 1
    blocks, _ = run(plan, speech)
    return blocks


def test_blocks_cover_every_frame_in_order(speech):
    plan = plan_blocks(N, RATE, 25, 7)
    blocks, gen = run(plan, speech)
    assert [b.first_frame for b in blocks] == [b.first_frame for b in plan.blocks()]
    assert sum(b.n for b in blocks) == plan.n_frames == 200
    for b in blocks:
        assert b.mouth.shape == (b.n, 4) and b.mouth.dtype == np.float32
        assert b.blink.shape == (b.n,) and b.head.shape == (b.n, 5)
        assert np.all((b.mouth >= 0) & (b.mouth <= 1)) and np.all((b.blink >= 0) & (b.blink <= 1))
    assert gen.state.frame == plan.n_frames


@pytest.mark.parametrize("fpb", [1, 4, 7])
def test_streamed_equals_one_shot(speech, one_shot, fpb):
    blocks, _ = run(plan_blocks(N, RATE, 25, fpb), speech)
    assert len(blocks) == -(-200 // fpb)
    assert_same(blocks, one_shot)


def test_how_phones_are_chunked_does_not_matter(speech, one_shot):
    # All phones in one batch vs. batch by batch: the generator only looks at phones
    # it has been given, and everything a frame needs arrives before the frame.
    everything = [PhoneBatch(DURATION, [p for b in speech for p in b.phones], aligned=False)]
    blocks, _ = run(plan_blocks(N, RATE, 25, 4), everything)
    assert_same(blocks, one_shot)


def test_phones_are_pulled_lazily(speech):
    pulled = []

    def lazy():
        for b in speech:
            pulled.append(b.end_s)
            yield b

    gen = MotionGenerator(plan_blocks(N, RATE, 25, 4), lazy(), MotionConfig())
    gen.next_block(0)  # frames 0..3: needs phones up to about 0.7 s
    assert pulled == [speech[0].end_s]
    # Memory stays flat: phones long past are dropped from the carried state.
    for i in range(1, 45):
        gen.next_block(i)
    assert min(p[2] for p in gen.state.phones) > 44 * 4 / 25 - 0.6


@pytest.mark.parametrize("k", [1, 13, 30])
def test_resume_from_copied_state_equals_uninterrupted(speech, one_shot, k):
    plan = plan_blocks(N, RATE, 25, 4)
    gen = MotionGenerator(plan, iter(speech), MotionConfig())
    first = [gen.next_block(i) for i in range(k)]
    saved = copy.deepcopy(gen.state)
    # The new generator gets the batches the old one had not yet read; those it had read
    # travel in the state (state.phones, up to state.phones_known_until_s).
    rest_batches = [b for b in speech if b.end_s > saved.phones_known_until_s]
    resumed, _ = run(plan, rest_batches, state=saved)
    assert resumed[0].first_frame == 4 * k
    assert_same(first + resumed, one_shot)
    # The saved state was copied, not shared: resuming did not change it.
    assert saved.frame == 4 * k


def test_state_survives_a_json_round_trip(speech, one_shot):
    plan = plan_blocks(N, RATE, 25, 4)
    gen = MotionGenerator(plan, iter(speech), MotionConfig())
    first = [gen.next_block(i) for i in range(20)]
    text = json.dumps(dataclasses.asdict(gen.state))
    state = MotionState(**json.loads(text))
    rest = [b for b in speech if b.end_s > state.phones_known_until_s]
    resumed, _ = run(plan, rest, state=state)
    assert_same(first + resumed, one_shot)


def test_blocks_must_come_in_order(speech):
    gen = MotionGenerator(plan_blocks(N, RATE, 25, 4), speech, MotionConfig())
    gen.next_block(0)
    with pytest.raises(ValueError, match="block 2 starts at frame 8, state is at frame 4"):
        gen.next_block(2)


def _head(speech, **kw):
    blocks, _ = run(plan_blocks(N, RATE, 25, 4), speech, MotionConfig(**kw))
    return stack(blocks)


def test_same_seed_same_motion_different_seed_different_head(speech):
    m0, b0, h0 = _head(speech, seed=5)
    m1, b1, h1 = _head(speech, seed=5)
    np.testing.assert_array_equal(h0, h1)
    np.testing.assert_array_equal(b0, b1)
    _, _, h2 = _head(speech, seed=6)
    assert np.abs(h2 - h0).max() > 0.5  # degrees: clearly different motion
    assert np.std(h0[:, 0]) > 0.1  # and the head does move


def test_head_motion_scales_head_amplitude(speech):
    m1, _, h1 = _head(speech, seed=2, head_motion=1.0)
    m2, _, h2 = _head(speech, seed=2, head_motion=2.0)
    np.testing.assert_allclose(h2, 2 * h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(m1, m2)  # the mouth does not depend on head motion
    m0, _, h0 = _head(speech, seed=2, head_motion=0.0)
    assert np.all(h0 == 0)
    np.testing.assert_array_equal(m0, m1)


def test_head_motion_is_smooth_and_bounded():
    plan = plan_blocks(60 * RATE, RATE, 25, 4)
    _, _, head = stack(run(plan, [])[0])
    assert np.abs(head[:, :3]).max() < 12.0  # degrees
    assert np.abs(head[:, 3:]).max() < 0.06  # face widths
    step = np.diff(head[:, :3], axis=0)
    assert np.abs(step).max() < 1.0  # degrees per frame at 25 fps: no jumps
    # Smooth (a driven spring, not noise): frame-to-frame changes themselves change slowly.
    # White noise gives about 1.7 and a random walk about 1.4; a second-order spring about 0.5.
    assert np.sqrt(np.mean(np.diff(step, axis=0) ** 2)) < 0.75 * np.sqrt(np.mean(step**2))


@pytest.mark.parametrize("batches", [
    [],
    [PhoneBatch(3.0, [], aligned=False), PhoneBatch(8.0, [], aligned=False)],
    [PhoneBatch(8.0, [Phone("SIL", 0.0, 2.0), Phone("+NOISE+", 2.0, 3.5), Phone("+BREATH+", 3.5, 4.0), Phone("sil", 4.0, 8.0)], aligned=False)],
], ids=["no-batches", "empty-batches", "silence-phones"])
def test_silence_keeps_the_mouth_shut(batches):
    mouth, _, _ = stack(run(plan_blocks(N, RATE, 25, 4), batches)[0])
    assert len(mouth) == 200
    assert np.all(mouth == 0)


def _m_inside_aa(centre: float, fps, dur: float = 0.06):
    phones = [Phone("AA", 0.3, centre - dur / 2), Phone("M", centre - dur / 2, centre + dur / 2), Phone("AA", centre + dur / 2, 2.5)]
    plan = plan_blocks(3 * RATE, RATE, fps, 4)
    mouth, _, _ = stack(run(plan, [PhoneBatch(3.0, phones, aligned=False)])[0])
    return mouth, float(plan.fps)


@pytest.mark.parametrize("fps", [25, 30, 50])
def test_short_m_inside_aa_closes_the_lips(fps):
    centre = 1.23
    mouth, f = _m_inside_aa(centre, fps)
    c = int(centre * f)
    window = mouth[c - 1 : c + 2]
    closed = (window[:, 3] == 1.0) & (window[:, 0] == 0.0)
    assert closed.any(), window
    # The vowel around it really is open: the closure is an event, not a resting state.
    assert mouth[c - 8, 0] > 0.8 and mouth[c + 8, 0] > 0.8
    assert np.sum(mouth[:, 3] == 1.0) <= 4


@settings(max_examples=40, deadline=None)
@given(centre=st.floats(0.8, 2.0), dur=st.floats(0.04, 0.1))
def test_any_bilabial_of_40ms_or_more_closes_the_lips_at_25fps(centre, dur):
    mouth, _ = _m_inside_aa(centre, 25, dur)
    c = int(centre * 25)
    assert np.any((mouth[c - 1 : c + 2, 3] == 1.0) & (mouth[c - 1 : c + 2, 0] == 0.0))


@pytest.mark.parametrize("anticipation,expected", [(0.0, 25), (0.04, 24)])
def test_mouth_opens_on_the_vowel_shifted_by_anticipation(anticipation, expected):
    # A vowel starting at 1.0 s after silence: frame 25 starts at 1.0 s; 40 ms of anticipation is one frame.
    batches = [PhoneBatch(2.0, [Phone("SIL", 0.0, 1.0), Phone("AA", 1.0, 1.6)], aligned=False)]
    mouth, _, _ = stack(run(plan_blocks(2 * RATE, RATE, 25, 4), batches, MotionConfig(anticipation_s=anticipation))[0])
    first_open = int(np.argmax(mouth[:, 0] > 0.05))
    assert first_open == expected
    assert np.all(mouth[:first_open] == 0)
    assert mouth[30, 0] > 0.9
    # And it closes again after the vowel ends.
    assert mouth[-1, 0] < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blinks_happen_but_not_too_often(seed):
    plan = plan_blocks(20 * RATE, RATE, 25, 4)
    _, blink, _ = stack(run(plan, [], MotionConfig(seed=seed))[0])
    above = blink > 0.5
    onsets = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    assert 2 <= len(onsets) <= 20  # at least one blink, at most about one per second
    assert np.all(np.diff(onsets) / 25 >= 1.2)  # never two blinks closer than 1.2 s
    assert blink.max() > 0.9  # the lids close fully
    # Each blink is short: about blink_duration_s (0.22 s) at the lids' half-way mark.
    runs = [int(np.argmin(above[o:])) for o in onsets]  # frames until the lids are below half-way again
    assert max(runs) <= 5


def test_blink_interval_sets_the_blink_rate():
    plan = plan_blocks(120 * RATE, RATE, 25, 25)

    def count(interval):
        _, blink, _ = stack(run(plan, [], MotionConfig(seed=1, blink_interval_s=interval))[0])
        above = blink > 0.5
        return int(np.sum(above[1:] & ~above[:-1]))

    assert count(2.0) > 1.5 * count(6.0)


def test_time_without_phones_counts_as_silence():
    # A 20 ms vowel alone in a 40 ms frame: half the frame is silence, so the target is half
    # open, and the mouth gets one attack step (0.65) of the way there.
    batches = [PhoneBatch(2.0, [Phone("AA", 1.005, 1.025)], aligned=False)]
    mouth, _, _ = stack(run(plan_blocks(2 * RATE, RATE, 25, 4), batches)[0])
    assert mouth[:, 0].max() == pytest.approx(0.65 * 0.5, abs=1e-6)
    assert int(np.argmax(mouth[:, 0])) == 25  # frame 25 covers [1.0, 1.04) s




def fast_speech(duration_s: float, seed: int) -> list[PhoneBatch]:
    """Fast speech: clusters of 1-3 consonants of 30-70 ms before 40-90 ms vowels, no pauses,
    cut into batches of 1.3 s (phones clipped at batch ends)."""
    rng = np.random.default_rng(seed)
    phones, t = [], 0.1
    while t < duration_s - 0.3:
        for _ in range(int(rng.integers(1, 4))):
            d = rng.uniform(0.03, 0.07)
            phones.append(Phone(str(rng.choice(CONSONANTS + ["T", "S", "K", "R"])), t, t + d))
            t += d
        d = rng.uniform(0.04, 0.09)
        phones.append(Phone(str(rng.choice(VOWELS)), t, t + d))
        t += d
    edges = list(np.arange(1.3, duration_s, 1.3)) + [duration_s]
    return [PhoneBatch(float(e), [Phone(p.name, p.start_s, min(p.end_s, e)) for p in phones if s <= p.start_s < e], aligned=False)
            for s, e in zip([0.0] + edges[:-1], edges)]


@pytest.mark.parametrize("fpb", [1, 3, 5])
def test_fast_speech_streamed_equals_one_shot(fpb):
    # Anticipatory rounding and closure holding look at neighbouring phones and frames,
    # across block ends: still the same motion however the frames are blocked.
    speech = fast_speech(DURATION, seed=11)
    one, _ = run(plan_blocks(N, RATE, 25, 200), speech)
    blocks, _ = run(plan_blocks(N, RATE, 25, fpb), speech)
    assert_same(blocks, one)


def _mouth(phones, seconds=2.0, fps=25):
    plan = plan_blocks(int(seconds * RATE), RATE, fps, 4)
    return stack(run(plan, [PhoneBatch(seconds, phones, aligned=False)])[0])[0]


def test_lips_round_from_the_consonants_before_a_rounded_vowel():
    # "stew": s and t do not use the lips, so the lips round for the uw already during them.
    def word(vowel, before=()):
        return _mouth([*before, Phone("S", 1.0, 1.12), Phone("T", 1.12, 1.2), Phone(vowel, 1.2, 1.5)])

    stew, stee = word("UW"), word("IY")
    assert stew[26, 1] > 0.5 and stew[29, 1] > 0.7  # frames 25..29 are the s and t
    assert np.all(stee[:30, 1] == 0.0)
    # Only the rounding moves earlier: the jaw opens exactly as it does before an unrounded vowel.
    np.testing.assert_array_equal(stew[:30, 0], stee[:30, 0])
    # A vowel before the cluster keeps its own spread lips: rounding starts after it.
    ee_stew = word("UW", before=[Phone("IY", 0.8, 1.0)])
    assert np.all(ee_stew[20:25, 1] == 0.0) and ee_stew[27, 1] > 0.5
    # A labial is in the way (the lips are busy closing): no rounding before it.
    smoo = _mouth([Phone("S", 1.0, 1.12), Phone("M", 1.12, 1.2), Phone("UW", 1.2, 1.5)])
    assert np.all(smoo[25:28, 1] == 0.0)
    # A pause between them: the consonant before the pause is not rounded.
    s_pause = _mouth([Phone("S", 0.8, 0.92), Phone("SIL", 0.92, 1.2), Phone("UW", 1.2, 1.5)])
    assert np.all(s_pause[20:23, 1] == 0.0)


@settings(max_examples=40, deadline=None)
@given(centre=st.floats(0.8, 2.0), dur=st.floats(0.027, 0.1))
def test_every_closure_is_held_for_at_least_two_frames_at_25fps(centre, dur):
    mouth, _ = _m_inside_aa(centre, 25, dur)
    closed = np.flatnonzero(mouth[:, 3] == 1.0)
    assert len(closed) >= 2 and np.all(np.diff(closed) == 1)  # one run of two frames or more
    assert np.all(mouth[closed, 0] == 0.0)


def test_no_flutter_on_fast_speech():
    # Fast clusters swing the targets back and forth by a few hundredths from frame to frame;
    # the mouth should not follow such tiny swings (two small steps in opposite directions).
    for seed in range(3):
        mouth, _, _ = stack(run(plan_blocks(int(20 * RATE), RATE, 25, 4), fast_speech(20.0, seed))[0])
        d = np.diff(mouth[:, 0])
        wiggles = (d[1:] * d[:-1] < 0) & (np.maximum(np.abs(d[1:]), np.abs(d[:-1])) < 0.03)
        assert wiggles.sum() == 0
        # ... while every syllable still opens and closes the jaw.
        syllables = sum(p.name in VOWELS for b in fast_speech(20.0, seed) for p in b.phones)
        peaks = np.sum((d[1:] < 0) & (d[:-1] > 0))
        assert peaks > 0.6 * syllables
