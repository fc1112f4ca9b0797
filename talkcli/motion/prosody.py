"""Prosody features for head motion: F0 and energy per video frame (pyworld), and a nod signal.

Pure functions of 16 kHz mono float32 samples; the motion generator decides
how to use them. Stressed syllables (energy peaks that are voiced and sit
above the speaker's median pitch) give short downward nods; pauses give a
low activity value so the head calms down.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np

from talkcli.audio.decode import ANALYSIS_RATE


@dataclass(frozen=True)
class Prosody:
    """Per-frame features, each ``(n_frames,) float32``."""

    f0_hz: np.ndarray  # 0 where unvoiced
    energy_db: np.ndarray  # RMS level, dBFS
    activity: np.ndarray  # 0 in pauses .. 1 in lively speech (smoothed)
    nod: np.ndarray  # 0..1 nod impulses on stressed syllables (smoothed, peak ~1)


def frame_features(samples: np.ndarray, fps: float | Fraction, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``(f0_hz, energy_db)`` per frame for 16 kHz mono ``samples``; frame i covers
    ``[i / fps, (i + 1) / fps)``."""
    import warnings

    with warnings.catch_warnings():  # pyworld 0.3.5 imports pkg_resources, which warns on import
        warnings.simplefilter("ignore", UserWarning)
        import pyworld

    x = np.asarray(samples, dtype=np.float64)
    fps = float(fps)
    period_ms = 1000.0 / fps
    if len(x) < 400:
        return np.zeros(n_frames, np.float32), np.full(n_frames, -100.0, np.float32)
    f0, t = pyworld.dio(x, ANALYSIS_RATE, frame_period=period_ms, f0_floor=60.0, f0_ceil=500.0)
    f0 = pyworld.stonemask(x, f0, t, ANALYSIS_RATE)
    # pyworld's k-th value is centred at k * period; frame i's centre is (i + 0.5) * period.
    centres = (np.arange(n_frames) + 0.5) / fps
    idx = np.clip(np.round(centres * fps).astype(int), 0, len(f0) - 1)
    f0_frames = f0[idx]
    starts = np.floor(np.arange(n_frames + 1) * ANALYSIS_RATE / fps).astype(int)
    starts = np.clip(starts, 0, len(x))
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    counts = np.maximum(starts[1:] - starts[:-1], 1)
    rms = np.sqrt(np.maximum((sq[starts[1:]] - sq[starts[:-1]]) / counts, 1e-12))
    return f0_frames.astype(np.float32), (20 * np.log10(rms)).astype(np.float32)


def _smooth(v: np.ndarray, frames: float) -> np.ndarray:
    """Causal-free Gaussian smoothing with sigma ``frames``."""
    if frames <= 0 or len(v) < 2:
        return v.astype(np.float32)
    r = int(np.ceil(3 * frames))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / frames) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(v, r, mode="edge"), k, mode="valid").astype(np.float32)


def prosody(samples: np.ndarray, fps: float | Fraction, n_frames: int) -> Prosody:
    """Prosody features of a whole clip (or a chunk: the result depends only on these samples)."""
    fps_f = float(fps)
    f0, energy = frame_features(samples, fps_f, n_frames)
    speech = energy > max(-45.0, float(np.percentile(energy, 90)) - 30.0) if n_frames else energy > 0
    activity = _smooth(speech.astype(np.float32), 0.25 * fps_f)
    voiced = f0 > 0
    median_f0 = float(np.median(f0[voiced])) if voiced.any() else 0.0
    # Stress: loud, voiced and at or above the speaker's median pitch; a local energy maximum
    # over +-120 ms, at least 300 ms after the previous nod.
    level = _smooth(energy, 0.04 * fps_f)
    nods = np.zeros(n_frames, np.float32)
    half = max(1, int(round(0.12 * fps_f)))
    gap = max(1, int(round(0.3 * fps_f)))
    last = -gap
    loud = float(np.percentile(level[speech], 60)) if speech.any() else np.inf
    for i in range(n_frames):
        lo, hi = max(0, i - half), min(n_frames, i + half + 1)
        if (speech[i] and voiced[i] and level[i] >= loud and level[i] == level[lo:hi].max()
                and f0[i] >= 0.95 * median_f0 and i - last >= gap):
            nods[i] = 1.0
            last = i
    nod = _smooth(nods, 0.06 * fps_f)
    if nod.max() > 0:
        nod = nod / nod.max()
    return Prosody(f0_hz=f0, energy_db=energy, activity=activity, nod=nod.astype(np.float32))


def chunk_prosody(samples: np.ndarray, plan) -> Callable[[float, float], tuple[int, np.ndarray, np.ndarray]]:
    """Prosody for the motion generator, analysed per stretch of audio between two phone-batch ends.

    Returns ``f(start_s, end_s) -> (first_frame, nod, activity)`` covering the
    frames that start in ``[start_s, end_s)`` (the last stretch runs to the
    last frame). Each stretch is analysed on its own samples only, so a
    resumed job gets exactly the values an uninterrupted one did.
    """
    from math import ceil

    sr = plan.sample_rate

    def first_frame_at(seconds: float) -> int:
        sample = int(round(seconds * sr))
        if sample >= plan.n_samples:
            return plan.n_frames
        return min(plan.n_frames, ceil(Fraction(sample) * plan.fps / sr))

    def source(start_s: float, end_s: float) -> tuple[int, np.ndarray, np.ndarray]:
        f0, f1 = first_frame_at(start_s), first_frame_at(end_s)
        if f1 <= f0:
            return f0, np.zeros(0, np.float32), np.zeros(0, np.float32)
        a, b = plan.frame_sample(f0), plan.frame_sample(f1)
        p = prosody(np.asarray(samples[a:b], dtype=np.float32), plan.fps, f1 - f0)
        return f0, p.nod, p.activity

    return source
