"""A/V offset: how far the sound is shifted from the mouth movements that go with it.

The soundtrack is put on the video's timeline first (its first sample plays at
``audio_start_s`` after the first frame; containers may delay either stream).
Frame ``i`` is on screen over ``[i / fps, (i + 1) / fps)``, so the speech
envelope of frame ``i`` is the RMS amplitude of the band-passed speech over
that same interval. The offset is the lag ``L`` that maximises the Pearson
correlation between the frame-to-frame change of the mouth opening and the
frame-to-frame change of the envelope taken over ``[i / fps + L, (i + 1) / fps + L)``,
searched every 5 ms over +-500 ms from the samples themselves (no resampling
of the mouth track), then refined between grid points by a parabola through
the peak and its neighbours.

Why changes, not levels: opening and loudness also share a slow component
(speech on, speech off; a speaker whose lips rest apart), whose broad
correlation can outweigh the syllables on short clips. Differencing both
sides keeps the syllable-rate movement that timing is read from; on our
renders both give the same offset to a few ms.

Sign: ``av_offset_ms > 0`` means the audio is late relative to the video (the
mouth moves before its sound); ``< 0`` means the audio is early. EBU R37
allows audio at most 40 ms early and 60 ms late: ``-40 <= av_offset_ms <= 60``.

Confidence follows SyncNet's: the peak correlation minus the median
correlation over all searched lags (0 for a mouth that does not move).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENVELOPE_BAND_HZ = (100.0, 4000.0)  # speech band; drops mains hum, rumble and hiss
MAX_LAG_S = 0.5
LAG_STEP_S = 0.005
EBU_R37_AUDIO_EARLY_MS = 40.0  # audio may lead the picture by at most this (av_offset_ms >= -40)
EBU_R37_AUDIO_LATE_MS = 60.0  # audio may lag the picture by at most this (av_offset_ms <= 60)
MIN_STD = 1e-3  # a track varying less than this (in its own units) does not move: correlation 0
VAD_BLOCK_S = 0.01
BLOCK_S = 0.001  # power is summed over blocks this long: the time resolution of every window
VAD_RISE = 0.45  # share of the way from the noise floor to the speech level where speech begins


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is (nearly) constant or fewer than 3 samples."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 3 or a.std() < 1e-12 or b.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def parabolic_peak(values: np.ndarray, j: int) -> float:
    """Sub-sample position offset (-0.5..0.5) of the peak at ``j`` from a parabola through j-1, j, j+1."""
    if j <= 0 or j >= len(values) - 1:
        return 0.0
    a, b, c = values[j - 1], values[j], values[j + 1]
    den = a - 2 * b + c
    if den >= 0:  # not a maximum (flat or convex)
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


def band_pass(samples: np.ndarray, sample_rate: int, band: tuple[float, float], chunk: int = 1 << 19) -> np.ndarray:
    """Zero-phase band-pass (FFT mask with raised-cosine edges), chunk by chunk with 0.5 s overlaps.

    Zero phase matters: a filter that delayed the envelope would bias every offset.
    """
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    out = np.empty(n, dtype=np.float32)
    if n == 0:
        return out
    margin = int(0.5 * sample_rate)
    step = min(chunk, n)
    size = 1 << int(np.ceil(np.log2(step + 2 * margin)))
    f = np.fft.rfftfreq(size, 1.0 / sample_rate)
    lo, hi = band
    hi = min(hi, 0.45 * sample_rate)
    rise = np.clip((f - lo / 2) / (lo / 2), 0, 1)  # 0 below lo/2, 1 above lo
    fall = np.clip((1.25 * hi - f) / (0.25 * hi), 0, 1)  # 1 below hi, 0 above 1.25 hi
    mask = (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))
    for start in range(0, n, step):
        a, b = max(0, start - margin), min(n, start + step + margin)
        seg = np.zeros(size)
        seg[: b - a] = x[a:b]
        y = np.fft.irfft(np.fft.rfft(seg) * mask, size)
        keep = min(step, n - start)
        out[start : start + keep] = y[start - a : start - a + keep]
    return out


class SpeechAudio:
    """A soundtrack on the video's timeline: ``samples`` (mono float32) at ``sample_rate``,
    sample 0 playing ``start_s`` seconds after the first video frame (negative: before it).

    Only power sums over 1 ms blocks are kept, so an hour of audio costs
    about 60 MB here, and any window is a difference of two cumulative sums.
    """

    def __init__(self, samples: np.ndarray, sample_rate: int, start_s: float = 0.0) -> None:
        self.sample_rate = int(sample_rate)
        self.start_s = float(start_s)
        x = np.asarray(samples, dtype=np.float32)
        self.duration_s = len(x) / self.sample_rate
        self._block = max(1, int(round(self.sample_rate * BLOCK_S)))  # samples per power block
        self._blocks_per_s = self.sample_rate / self._block
        self._band_cum = self._cumulative_power(band_pass(x, self.sample_rate, ENVELOPE_BAND_HZ))
        self._raw_cum = self._cumulative_power(x)

    def _cumulative_power(self, x: np.ndarray) -> np.ndarray:
        n_blocks = -(-len(x) // self._block)
        padded = np.zeros(n_blocks * self._block, dtype=np.float64)
        padded[: len(x)] = x
        return np.concatenate([[0.0], np.cumsum(np.sum(padded.reshape(n_blocks, self._block) ** 2, axis=1))])

    def _mean_power(self, cum: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Mean power over ``[t0, t1)`` (video-timeline seconds, to the nearest 1 ms block);
        time outside the audio counts as silence."""
        n = len(cum) - 1
        k0 = np.round((t0 - self.start_s) * self._blocks_per_s).astype(np.int64)
        k1 = np.round((t1 - self.start_s) * self._blocks_per_s).astype(np.int64)
        length = np.maximum(k1 - k0, 1) * self._block
        k0, k1 = np.clip(k0, 0, n), np.clip(k1, 0, n)
        return (cum[k1] - cum[k0]) / length

    def envelope(self, n_frames: int, fps: float, lag_s: float = 0.0) -> np.ndarray:
        """``(n_frames,)`` RMS amplitude of the band-passed speech over each frame's interval shifted by ``lag_s``."""
        i = np.arange(n_frames)
        return np.sqrt(self._mean_power(self._band_cum, i / fps + lag_s, (i + 1) / fps + lag_s))

    def speech_frames(self, n_frames: int, fps: float) -> np.ndarray:
        """``(n_frames,) bool``: speech overlaps the frame's interval.

        Levels of 10 ms blocks are median-filtered over 50 ms (clicks and hiss
        bursts are not speech); a block is speech when its level is above the
        noise floor (10th percentile) by at least ``VAD_RISE`` of the way to
        the speech level (95th percentile), and above -60 dBFS.
        """
        t = np.arange(0.0, self.duration_s, VAD_BLOCK_S)
        if len(t) == 0:
            return np.zeros(n_frames, dtype=bool)
        t0 = t + self.start_s
        db = 10 * np.log10(self._mean_power(self._raw_cum, t0, t0 + VAD_BLOCK_S) + 1e-12)
        if len(db) >= 5:
            windows = np.lib.stride_tricks.sliding_window_view(np.pad(db, 2, mode="edge"), 5)
            db = np.median(windows, axis=1)
        floor, loud = np.percentile(db, 10), np.percentile(db, 95)
        speech = db > max(-60.0, floor + VAD_RISE * (loud - floor))
        n_blocks = len(speech)
        cum = np.concatenate([[0], np.cumsum(speech)])
        i = np.arange(n_frames)
        b0 = np.floor((i / fps - self.start_s) / VAD_BLOCK_S + 1e-9).astype(np.int64)
        b1 = np.ceil(((i + 1) / fps - self.start_s) / VAD_BLOCK_S - 1e-9).astype(np.int64)
        b0, b1 = np.clip(b0, 0, n_blocks), np.clip(b1, 0, n_blocks)
        return (cum[b1] - cum[b0]) > 0


@dataclass(frozen=True)
class OffsetEstimate:
    """Result of the A/V offset search. ``offset_ms`` is None when the mouth does not move
    or too few frames have a face; ``lags_ms`` and ``r`` are the searched correlation curve."""

    offset_ms: float | None
    peak_r: float
    confidence: float
    at_search_edge: bool
    lags_ms: np.ndarray
    r: np.ndarray

    @property
    def within_ebu_r37(self) -> bool | None:
        """Pass/fail against EBU R37; None without an estimate or when the peak is at the search edge."""
        if self.offset_ms is None or self.at_search_edge:
            return None
        return -EBU_R37_AUDIO_EARLY_MS <= self.offset_ms <= EBU_R37_AUDIO_LATE_MS


def estimate_offset(
    opening: np.ndarray,
    valid: np.ndarray,
    audio: SpeechAudio,
    fps: float,
    max_lag_s: float = MAX_LAG_S,
    step_s: float = LAG_STEP_S,
) -> OffsetEstimate:
    """The lag that best aligns changes of the mouth opening ``(N,)`` (used where ``valid``) with
    changes of the speech envelope."""
    k = int(round(max_lag_s / step_s))
    lags = np.arange(-k, k + 1) * step_s
    opening = np.asarray(opening, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(opening)
    n = len(opening)
    if valid.sum() < 10 or opening[valid].std() < MIN_STD:
        return OffsetEstimate(None, 0.0, 0.0, False, lags * 1000, np.zeros(len(lags)))
    both = valid[1:] & valid[:-1]  # a change needs a face on both frames
    dy = np.diff(np.where(valid, opening, 0.0))[both]
    r = np.array([pearson(dy, np.diff(audio.envelope(n, fps, lag))[both]) for lag in lags])
    j = int(np.argmax(r))
    offset = (lags[j] + parabolic_peak(r, j) * step_s) * 1000.0
    return OffsetEstimate(
        offset_ms=float(offset),
        peak_r=float(r[j]),
        confidence=float(r[j] - np.median(r)),
        at_search_edge=j in (0, len(r) - 1),
        lags_ms=lags * 1000.0,
        r=r,
    )


def best_lag(a: np.ndarray, b: np.ndarray, valid: np.ndarray, fps: float, max_lag_s: float = MAX_LAG_S) -> tuple[float, float]:
    """(lag in ms, correlation at that lag) maximising corr(a[t], b[t + lag]) over whole frames
    within +-``max_lag_s``, refined by a parabola; lag > 0 means ``b`` moves later than ``a``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    k = max(1, int(round(max_lag_s * fps)))
    n = len(a)
    rs = np.zeros(2 * k + 1)
    for idx, lag in enumerate(range(-k, k + 1)):
        ia = np.arange(max(0, -lag), min(n, n - lag))
        ib = ia + lag
        m = valid[ia] & valid[ib]
        rs[idx] = pearson(a[ia][m], b[ib][m]) if m.sum() >= 3 else 0.0
    j = int(np.argmax(rs))
    if rs[j] == 0.0:
        return 0.0, 0.0
    return float((j - k + parabolic_peak(rs, j)) * 1000.0 / fps), float(rs[j])
