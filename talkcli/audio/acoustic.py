"""Language-agnostic mouth driver: timed pseudo-phones from acoustics alone.

For speech that is not English, pocketsphinx's English phone models have
nothing to offer, but the mouth follows the sound in any language: the jaw
opens on each syllable nucleus (a peak of voiced loudness), the vowel's first
two formants say how open (F1) and how rounded (low F2) it is, and the lips
close where the sound stops (a deep, quiet dip between two nuclei).

The output is ARPAbet-named phones (``AA``/``AE`` open, ``EH``/``IH`` mid,
``OW``/``UW`` rounded, ``T`` other consonants, ``M`` closures, ``SIL``) so
everything downstream (visemes, cues, motion) is shared with the English path.
Chunking and resume work as for ``phone_batches``: each chunk is analysed on
its own, so a resumed job sees the same phones.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from talkcli.audio.decode import ANALYSIS_RATE
from talkcli.audio.phonemes import (
    HOP,
    NOISE_FLOOR_DB,
    Phone,
    PhoneBatch,
    frame_db,
    silence_threshold_db,
    speech_chunks,
    with_noise_floor,
)

N_FFT = 512  # 32 ms at 16 kHz
WIN = 400  # 25 ms analysis window, hop 10 ms (HOP)
NUCLEUS_PROMINENCE_DB = 6.0  # a loudness peak this far above the dips around it is a syllable nucleus
MIN_NUCLEUS_GAP_S = 0.08  # syllables come at most ~12 a second
CLOSURE_DEPTH_DB = 18.0  # a dip this far below both neighbouring nuclei is a stop or nasal closure
CLOSURE_HF_RATIO = 0.1  # ... if it is also not a fricative (little energy above 3 kHz)
MAX_CLOSURE_FRAMES = 25


def _spectra(samples: np.ndarray, n_frames: int) -> np.ndarray:
    """Power spectra of 10 ms frames, ``(n_frames, N_FFT // 2 + 1) float32`` (window centred on each frame)."""
    pad = np.pad(samples.astype(np.float32), (WIN // 2, WIN + n_frames * HOP))
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(WIN)[None, :]
    frames = pad[idx] * np.hanning(WIN).astype(np.float32)
    return (np.abs(np.fft.rfft(frames, N_FFT, axis=1)) ** 2).astype(np.float32)


def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) < k:
        return x
    return np.convolve(np.pad(x, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")


def _formants(spec: np.ndarray) -> tuple[float, float]:
    """Rough F1, F2 in Hz from one power spectrum: peaks of its cepstrally smoothed envelope."""
    logs = np.log(spec + 1e-10)
    cep = np.fft.irfft(logs)
    cep[30:-30] = 0.0  # lifter: keep the envelope (vocal tract), drop the harmonics (source)
    env = np.fft.rfft(cep).real[: len(spec)]
    f = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    b1 = (f >= 250) & (f <= 1000)
    f1 = float(f[b1][np.argmax(env[b1])])
    b2 = (f >= max(700.0, f1 + 250)) & (f <= 2800)
    f2 = float(f[b2][np.argmax(env[b2])])
    return f1, f2


def vowel_phone(f1: float, f2: float) -> str:
    """ARPAbet stand-in for a vowel of formants ``f1``, ``f2`` Hz (open, rounded or mid)."""
    if f1 >= 650:
        return "AA"
    if f2 < 1150:
        return "OW" if f1 >= 450 else "UW"
    return "EH" if f1 >= 450 else "IH"


def chunk_phones(samples: np.ndarray, threshold_db: float, offset_s: float = 0.0) -> tuple[list[Phone], np.ndarray]:
    """Pseudo-phones of one chunk (16 kHz mono float32) and the times (s) of its syllable nuclei.

    ``threshold_db``: level below which a 10 ms frame is pause (from the whole clip).
    """
    from scipy.signal import find_peaks

    db = frame_db(samples)
    n = len(db)
    if n == 0:
        return [], np.zeros(0)
    spec = _spectra(samples, n)
    f = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    total = spec.sum(axis=1) + 1e-10
    voiced_db = 10 * np.log10(spec[:, (f >= 250) & (f <= 2500)].sum(axis=1) + 1e-10)
    hf = spec[:, f >= 3000].sum(axis=1) / total
    loud = _smooth(voiced_db, 5)
    speech = db >= threshold_db
    peaks, _ = find_peaks(np.where(speech, loud, loud.min() - 40), prominence=NUCLEUS_PROMINENCE_DB,
                          distance=max(1, int(MIN_NUCLEUS_GAP_S * 100)))
    peaks = np.array([p for p in peaks if speech[p] and hf[p] < 0.5], dtype=int)  # a hiss peak is no vowel
    labels = np.where(speech, "T", "SIL").astype(object)
    # Each nucleus owns the frames around it that are within 6 dB of its peak.
    for p in peaks:
        name = vowel_phone(*_formants(spec[p]))
        lo = p
        while lo > 0 and speech[lo - 1] and loud[lo - 1] >= loud[p] - 6:
            lo -= 1
        hi = p
        while hi < n - 1 and speech[hi + 1] and loud[hi + 1] >= loud[p] - 6:
            hi += 1
        labels[lo : hi + 1] = name
    # Closures: a deep dip between two nuclei that is not a fricative (hiss above 3 kHz at
    # speech level; in a near-silent dip the spectrum is the noise floor's and says nothing).
    fricative = (hf >= CLOSURE_HF_RATIO) & speech
    for a, b in zip(peaks[:-1], peaks[1:]):
        k = a + int(np.argmin(loud[a : b + 1]))
        depth = min(loud[a], loud[b]) - loud[k]
        if depth >= CLOSURE_DEPTH_DB and not fricative[k]:
            lo, hi = k, k
            while lo > a and loud[lo - 1] <= loud[k] + 6 and not fricative[lo - 1]:
                lo -= 1
            while hi < b and loud[hi + 1] <= loud[k] + 6 and not fricative[hi + 1]:
                hi += 1
            # 30 to 250 ms: shorter dips are flaps, longer ones pauses (the mouth rests there)
            if 3 <= hi - lo + 1 <= MAX_CLOSURE_FRAMES:
                labels[lo : hi + 1] = "M"
    phones = []
    i = 0
    while i < n:
        j = i
        while j < n and labels[j] == labels[i]:
            j += 1
        phones.append(Phone(str(labels[i]), offset_s + i * HOP / ANALYSIS_RATE, offset_s + min(j * HOP, len(samples)) / ANALYSIS_RATE))
        i = j
    return phones, offset_s + peaks * HOP / ANALYSIS_RATE


def acoustic_batches(samples: np.ndarray, max_chunk_s: float = 12.0, start_s: float = 0.0) -> Iterator[PhoneBatch]:
    """Like ``phone_batches`` without a recogniser: pseudo-phones chunk by chunk, in time order.

    ``start_s`` resumes: chunks ending at or before it are skipped without being analysed.
    """
    if NOISE_FLOOR_DB is not None:
        samples = with_noise_floor(samples, NOISE_FLOOR_DB)
    threshold = silence_threshold_db(frame_db(samples))
    for c in speech_chunks(samples, max_chunk_s=max_chunk_s):
        if c.end / ANALYSIS_RATE <= start_s:
            continue
        phones, _ = chunk_phones(samples[c.start : c.end], threshold, c.start / ANALYSIS_RATE)
        yield PhoneBatch(c.end / ANALYSIS_RATE, phones, aligned=False)


def syllable_nuclei(samples: np.ndarray) -> np.ndarray:
    """Times in seconds of the syllable nuclei the acoustic driver opens the mouth on (for checks)."""
    if NOISE_FLOOR_DB is not None:
        samples = with_noise_floor(samples, NOISE_FLOOR_DB)
    threshold = silence_threshold_db(frame_db(samples))
    out = [chunk_phones(samples[c.start : c.end], threshold, c.start / ANALYSIS_RATE)[1] for c in speech_chunks(samples)]
    return np.concatenate(out) if out else np.zeros(0)


def stretch_phones(samples: np.ndarray):
    """``fallback(chunk, offset_s) -> phones`` for ``phone_batches``: the acoustic pseudo-phones of a
    stretch that could not be aligned, with the pause level of the whole clip ``samples``."""
    if NOISE_FLOOR_DB is not None:
        samples = with_noise_floor(samples, NOISE_FLOOR_DB)
    threshold = silence_threshold_db(frame_db(samples))
    return lambda chunk, offset_s: chunk_phones(chunk, threshold, offset_s)[0]
