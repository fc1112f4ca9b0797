"""A/V offset: known shifts come back with the documented sign, on synthetic signals and on re-muxed videos."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import write_clip

from talkcli.eval.sync import (
    SpeechAudio,
    best_lag,
    estimate_offset,
    parabolic_peak,
    pearson,
)

FPS = 25
SR = 16000


def _mouth_and_audio(n_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random, smooth mouth-opening track and noise whose amplitude follows it frame by frame:
    frame i's opening is the amplitude over [i / fps, (i + 1) / fps), so the true offset is 0."""
    rng = np.random.default_rng(seed)
    raw = np.convolve(rng.random(n_frames + 4), np.ones(3) / 3, mode="same")[2:-2]
    opening = np.clip(raw - 0.35, 0, None)  # closed stretches, like speech
    per_frame = SR // FPS
    amplitude = np.repeat(opening, per_frame)
    audio = rng.standard_normal(len(amplitude)) * amplitude * 0.5
    return opening, audio.astype(np.float32)


def _shift(audio: np.ndarray, seconds: float) -> np.ndarray:
    """Delay (> 0) or advance (< 0) the audio, keeping its length: pad or trim samples."""
    k = int(round(seconds * SR))
    if k >= 0:
        return np.concatenate([np.zeros(k, audio.dtype), audio])[: len(audio)]
    return np.concatenate([audio[-k:], np.zeros(-k, audio.dtype)])


@pytest.mark.parametrize("shift_ms", [0, 80, -120, 33, -7])
def test_synthetic_shift_is_recovered_with_sign(shift_ms):
    opening, audio = _mouth_and_audio(200)
    est = estimate_offset(opening, np.ones(len(opening), bool), SpeechAudio(_shift(audio, shift_ms / 1000), SR), FPS)
    # > 0 means the audio is late: delaying the audio by 80 ms must read +80.
    assert est.offset_ms == pytest.approx(shift_ms, abs=5)
    assert est.confidence > 0.5
    assert est.within_ebu_r37 == (-40 <= shift_ms <= 60)


def test_audio_start_time_counts_like_a_delay():
    """Sample 0 playing 80 ms after the first frame is the same as 80 ms of leading silence."""
    opening, audio = _mouth_and_audio(200, seed=3)
    est = estimate_offset(opening, np.ones(len(opening), bool), SpeechAudio(audio, SR, start_s=0.08), FPS)
    assert est.offset_ms == pytest.approx(80, abs=5)


def test_still_mouth_gives_no_offset():
    _, audio = _mouth_and_audio(100)
    est = estimate_offset(np.full(100, 0.02), np.ones(100, bool), SpeechAudio(audio, SR), FPS)
    assert est.offset_ms is None and est.confidence == 0.0 and est.within_ebu_r37 is None


def test_frames_without_a_face_are_left_out():
    opening, audio = _mouth_and_audio(200, seed=5)
    valid = np.ones(200, bool)
    valid[50:80] = False
    garbage = opening.copy()
    garbage[50:80] = 10.0  # would wreck the correlation if it were used
    est = estimate_offset(garbage, valid, SpeechAudio(_shift(audio, 0.04), SR), FPS)
    assert est.offset_ms == pytest.approx(40, abs=5)


def test_parabolic_peak_and_pearson_edges():
    x = np.arange(7, dtype=float)
    assert parabolic_peak(-((x - 3.3) ** 2), 3) == pytest.approx(0.3)
    assert parabolic_peak(np.array([1.0, 2.0]), 1) == 0.0
    assert pearson(np.ones(10), np.arange(10.0)) == 0.0
    a = np.sin(np.arange(100) / 3.0)
    assert pearson(a, a) == pytest.approx(1.0)
    lag, r = best_lag(a, np.roll(a, 2), np.ones(100, bool), FPS)
    assert lag == pytest.approx(80, abs=8) and r > 0.95


def test_speech_frames_follow_the_audio():
    audio = np.zeros(SR * 2, np.float32)
    audio[SR // 2 : SR] = 0.3 * np.sin(np.arange(SR // 2) * 2 * np.pi * 220 / SR)
    speech = SpeechAudio(audio, SR).speech_frames(50, FPS)
    assert speech[13:25].all() and not speech[:12].any() and not speech[26:].any()


# -- on real files: the shift is made in the container or in the samples, measured on the decoded video


def _remux_with_audio_offset(src, dst, seconds):
    from talkcli.mux.ffmpeg import run_ffmpeg

    run_ffmpeg(["-i", str(src), "-itsoffset", f"{seconds:.3f}", "-i", str(src), "-map", "0:v", "-map", "1:a", "-c", "copy", "-y", str(dst)])
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("shift_ms", [80, -120])
def test_remuxed_audio_offset_moves_the_measurement(tmp_path, talking, talking_analysis, shift_ms):
    """ffmpeg -itsoffset on a rendered clip (audio stream start time, edit lists): the measured
    offset moves by the shift, within 20 ms."""
    from talkcli.eval import analyse_video

    shifted = analyse_video(_remux_with_audio_offset(talking, tmp_path / "shifted.mp4", shift_ms / 1000))
    base = talking_analysis.offset.offset_ms
    assert shifted.offset.offset_ms - base == pytest.approx(shift_ms, abs=20)
    assert shifted.offset.confidence > 0.3


@pytest.mark.slow
@pytest.mark.parametrize("shift_ms", [0, 80, -120])
def test_clip_whose_sound_follows_its_mouth_gives_the_shift(tmp_path, talking_frames, talking_analysis, shift_ms):
    """Absolute calibration on a decoded video: the rendered frames with a soundtrack whose
    loudness follows the measured mouth opening frame by frame (offset 0 by construction),
    then delayed or advanced by padding or trimming samples."""
    from talkcli.eval import analyse_video

    opening = np.nan_to_num(talking_analysis.track.opening)
    rng = np.random.default_rng(2)
    audio = rng.standard_normal(len(opening) * (SR // FPS)) * np.repeat(opening, SR // FPS)
    wav = tmp_path / "follows.wav"
    sf.write(wav, _shift(audio.astype(np.float32), shift_ms / 1000), SR, subtype="FLOAT")
    clip = analyse_video(write_clip(tmp_path / "follows.mp4", talking_frames, wav))
    assert clip.offset.offset_ms == pytest.approx(shift_ms, abs=20)
    assert clip.offset.within_ebu_r37 == (shift_ms == 0)


@pytest.mark.slow
def test_rendered_clip_is_in_sync_with_a_clear_peak(talking_analysis):
    """Our renderer's own offset on speech: inside EBU R37, with a clear correlation peak."""
    assert talking_analysis.offset.within_ebu_r37
    assert talking_analysis.offset.confidence > 0.4
