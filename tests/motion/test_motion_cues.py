"""Per-frame mouth classes (`talk cues`): closures held and seen, silence in gaps, order-free, formats."""

import json

import numpy as np
import pytest

from talkcli.audio.phonemes import Phone
from talkcli.motion.cues import cues_json, cues_tsv, frame_classes, hold_closures
from talkcli.motion.visemes import CLASSES


def test_short_m_between_vowels_is_closed_for_two_frames():
    phones = [Phone("AA", 0.2, 1.0), Phone("M", 1.0, 1.03), Phone("AA", 1.03, 1.8)]
    frames = frame_classes(phones, 50, 25)
    closed = [i for i, c in enumerate(frames) if c == "closed"]
    assert len(closed) == 2 and closed[1] - closed[0] == 1
    assert 24 <= closed[0] <= 25  # the M lies in frame 25 (1.00-1.04 s); the hold takes one neighbour
    assert frames[10] == "open" and frames[40] == "open"


def test_time_without_phones_is_silence_and_majority_wins():
    frames = frame_classes([Phone("IY", 0.40, 0.65), Phone("S", 0.65, 0.70)], 25, 25)
    assert frames[:10] == ["silence"] * 10
    assert frames[10:16] == ["mid"] * 6  # 0.40-0.64 s
    assert frames[17:] == ["silence"] * 8


def test_a_closure_covering_a_third_of_a_frame_wins_it():
    frames = frame_classes([Phone("AA", 0.0, 0.414), Phone("B", 0.414, 0.44), Phone("AA", 0.44, 1.0)], 25, 25, min_closure_frames=1)
    assert frames[10] == "closed" and frames.count("closed") == 1


def test_cues_do_not_depend_on_phone_order_or_batching():
    rng = np.random.default_rng(0)
    names = ["AA", "M", "IY", "F", "UW", "TH", "S", "B", "P", "SIL"]
    t, phones = 0.0, []
    while t < 6.0:
        d = float(rng.uniform(0.03, 0.2))
        phones.append(Phone(str(rng.choice(names)), t, t + d))
        t += d
    ref = frame_classes(phones, 150, 25)
    shuffled = list(phones)
    rng.shuffle(shuffled)
    assert frame_classes(shuffled, 150, 25) == ref
    assert set(ref) <= set(CLASSES)


@pytest.mark.parametrize("min_frames", [2, 3])
def test_hold_closures_lengthens_short_runs_only(min_frames):
    C, O = CLASSES.index("closed"), CLASSES.index("open")
    idx = np.array([O, O, C, O, O, O, C, C, C, O])
    closed_s = np.array([0, 0.01, 0.04, 0.02, 0, 0, 0.04, 0.04, 0.04, 0])
    out = hold_closures(idx, closed_s, min_frames)
    assert list(out[6:9]) == [C, C, C] and out[9] == O and out[5] == O  # a long run is untouched
    run = np.flatnonzero(out[:5] == C)
    assert len(run) == min_frames and 2 in run
    assert out[3] == C  # the neighbour with more closure time is taken first


def test_json_and_tsv_formats():
    frames = ["silence", "silence", "closed", "closed", "open", "silence"]
    obj = json.loads(cues_json(frames, 25))
    assert obj == {"fps": 25, "frames": frames}
    lines = cues_tsv(frames, 25).splitlines()
    assert lines == ["0.000\tsilence", "0.080\tclosed", "0.160\topen", "0.200\tsilence", "0.240\tsilence"]
