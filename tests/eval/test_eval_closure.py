"""Phoneme truth: reading the benchmark format, and counting p/b/m closures on a measured track."""

from __future__ import annotations

import json

import numpy as np
import pytest

from talkcli.errors import InputError
from talkcli.eval.closure import CLOSED_OPENING, closure_check, load_truth

FPS = 25


def _truth_file(tmp_path, segments, **extra):
    path = tmp_path / "truth.json"
    path.write_text(json.dumps({"segments": [{"phoneme": p, "start_s": s, "end_s": e} for p, s, e in segments], **extra}))
    return path


def test_reads_the_bench_format_and_merges_adjacent_bilabials(tmp_path):
    segs = [("_", 0.0, 0.2), ("b", 0.2, 0.25), ("0", 0.25, 0.4), ("m", 0.4, 0.46), ("b", 0.46, 0.5), ("I", 0.5, 0.6), ("p", 0.8, 0.9)]
    truth = load_truth(_truth_file(tmp_path, segs, phoneme_set="espeak"))
    assert truth.closures() == [(0.2, 0.25), (0.4, 0.5), (0.8, 0.9)]
    speech = truth.speech_frames(30, FPS)
    assert not speech[:5].any() and speech[5:15].all() and not speech[16:20].any()


def test_arpabet_bare_list_and_phonemes_key(tmp_path):
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"phoneme": "M", "start_s": 0.1, "end_s": 0.2}]))
    assert load_truth(bare).closures() == []  # a bare list is espeak: "M" is not a bilabial there
    arpa = tmp_path / "arpa.json"
    arpa.write_text(json.dumps({"phoneme_set": "arpabet", "phonemes": [{"phoneme": "M", "start_s": 0.1, "end_s": 0.2}, {"phoneme": "SIL", "start_s": 0.2, "end_s": 0.5}]}))
    truth = load_truth(arpa)
    assert truth.closures() == [(0.1, 0.2)]
    assert truth.speech_frames(12, FPS).sum() == 3


@pytest.mark.parametrize(
    "content, words",
    [("not json", "not JSON"), ("{}", "no phoneme segments"), ('{"segments": [{"phoneme": "p"}]}', "start_s"), ('{"phoneme_set": "ipa", "segments": []}', "phoneme_set")],
)
def test_bad_truth_files_are_input_errors(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=words):
        load_truth(path)
    with pytest.raises(InputError, match="not found"):
        load_truth(tmp_path / "missing.json")


def test_closure_met_within_one_frame_and_timing_sign(tmp_path):
    # Closures at frames 10-11 (0.40-0.48 s), 30 (1.20-1.24 s) and 50-51 (2.00-2.08 s).
    truth = load_truth(_truth_file(tmp_path, [("p", 0.40, 0.48), ("a", 0.48, 1.2), ("m", 1.20, 1.24), ("a", 1.24, 2.0), ("b", 2.00, 2.08)]))
    opening = np.full(70, 0.2)
    opening[12] = 0.0  # one frame late: still within +-1 frame
    opening[33] = 0.01  # three frames late: missed
    opening[50:52] = CLOSED_OPENING  # on time, at the threshold
    result = closure_check(truth, opening, FPS)
    assert (result.events, result.closed, result.fraction) == (3, 2, pytest.approx(2 / 3))
    assert result.timing_ms == pytest.approx([1000 * (12.5 / FPS - 0.44), 0.0], abs=1e-6)


def test_frames_without_face_are_not_scored(tmp_path):
    truth = load_truth(_truth_file(tmp_path, [("p", 0.40, 0.48), ("b", 1.0, 1.08)]))
    opening = np.full(40, 0.2)
    opening[8:14] = np.nan
    opening[25] = 0.0
    result = closure_check(truth, opening, FPS, audio_start_s=0.0)
    assert (result.events, result.closed, result.undetected, result.fraction) == (2, 1, 1, 1.0)


def test_audio_start_shifts_the_truth(tmp_path):
    truth = load_truth(_truth_file(tmp_path, [("p", 0.40, 0.44)]))
    opening = np.full(40, 0.2)
    opening[14] = 0.0  # 0.56 s: the truth's 0.40 s plus a 0.16 s audio start
    assert closure_check(truth, opening, FPS).closed == 0
    assert closure_check(truth, opening, FPS, audio_start_s=0.16).closed == 1


def test_spurious_closures_are_closed_runs_inside_speech_away_from_every_closure(tmp_path):
    # Speech 0.0-2.0 s with a p at frames 25-26 (1.00-1.08 s), then a pause (frames 50-59).
    truth = load_truth(_truth_file(tmp_path, [("a", 0.0, 1.0), ("p", 1.0, 1.08), ("a", 1.08, 2.0), ("_", 2.0, 2.4)]))
    opening = np.full(60, 0.2)
    opening[10] = 0.0  # mid-word, far from the p: spurious
    opening[24] = 0.0  # one frame before the p: the p's closure, not spurious
    opening[28] = 0.0  # two frames after the p (tolerance is one): spurious
    opening[38:41] = 0.01  # a three-frame run is one spurious closure
    opening[47:55] = 0.0  # closing into the pause: lips at rest, not a closure during speech
    result = closure_check(truth, opening, FPS)
    assert (result.closed, result.spurious) == (1, 3)
    assert result.measured_s == pytest.approx(60 / FPS)
    assert result.spurious_per_min == pytest.approx(3 / (60 / FPS / 60))
    assert closure_check(truth, opening, FPS, tolerance_frames=3).spurious == 2  # frame 28 is now within reach of the p
    # The video's first and last frames border no pause, but the mouth rests there before and after the sound.
    assert closure_check(truth, opening[:49], FPS).spurious == 3
    opening[0] = 0.0
    assert closure_check(truth, opening[:48], FPS).spurious == 3


def test_spurious_closures_skip_frames_without_face(tmp_path):
    truth = load_truth(_truth_file(tmp_path, [("a", 0.0, 4.0)]))
    opening = np.full(100, 0.2)
    opening[:25] = np.nan  # no face for the first second: not measured, not in the rate's denominator
    opening[60] = 0.0
    result = closure_check(truth, opening, FPS)
    assert (result.events, result.fraction, result.spurious) == (0, None, 1)
    assert result.spurious_per_min == pytest.approx(1 / (75 / FPS / 60))
    assert closure_check(truth, np.full(100, np.nan), FPS).spurious_per_min is None


def test_speech_at_centres_samples_the_truth_like_the_benchmark(tmp_path):
    # Frame centres at 0.02, 0.06, ... s: a 30 ms pause at 0.105-0.135 s holds none; 0.50-0.60 s holds three.
    truth = load_truth(_truth_file(tmp_path, [("a", 0.0, 0.105), ("_", 0.105, 0.135), ("m", 0.135, 0.5), ("_", 0.5, 0.6), ("a", 0.6, 0.8)]))
    speech = truth.speech_at_centres(20, FPS)
    assert speech[:12].all() and not speech[12:15].any() and speech[15:20].all()
    assert truth.speech_at_centres(20, FPS, audio_start_s=0.08)[:2].tolist() == [False, False]  # before the audio starts


def test_the_closed_threshold_can_be_moved_for_sensitivity_checks(tmp_path):
    truth = load_truth(_truth_file(tmp_path, [("a", 0.0, 0.4), ("m", 0.4, 0.48), ("a", 0.48, 2.0)]))
    opening = np.full(50, 0.2)
    opening[10:12] = 0.003  # the m: closed at any threshold
    opening[30] = 0.035  # an f-like near-closure: closed at the default 0.04, open at 0.02
    assert closure_check(truth, opening, FPS).spurious == 1
    strict = closure_check(truth, opening, FPS, closed_opening=0.02)
    assert (strict.closed, strict.spurious) == (1, 0)
