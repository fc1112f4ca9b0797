"""Language-agnostic mouth driver: timed pseudo-phones from acoustics alone.

For speech that is not English, pocketsphinx's English phone models have
nothing to offer, but the mouth follows the sound in any language: the jaw
opens on each syllable nucleus (a peak of voiced loudness) and closes part way
on the consonants between two nuclei, so it never holds one level through a
phrase; the vowel's first two formants say how open (F1) and how rounded (low
F2) it is, and the lips close where the sound stops without a hiss (a deep dip
between two nuclei released without power above 3.5 kHz, as p, b and m are).

The output is ARPAbet-named phones (``AA``/``AH1`` open, ``EH``/``IH`` mid,
``OW``/``UW`` rounded, ``S`` fricatives, ``T`` other consonants, ``M``
closures, ``SIL``) so
everything downstream (visemes, cues, motion) is shared with the English path.
Chunking and resume work as for ``phone_batches``: each chunk is analysed on
its own, so a resumed job sees the same phones.
"""

from __future__ import annotations

from dataclasses import dataclass
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
NUCLEUS_PROMINENCE_DB = 3.0  # a loudness peak this far above the dips around it is a syllable nucleus
NUCLEUS_FLOOR_DB = 30.0  # ... if it is at most this far below the chunk's loud vowels
NUCLEUS_SPAN_DB = 5.0  # a nucleus owns the frames this close to its peak's loudness
WEAK_NUCLEUS_DB = 12.0  # a nucleus this far below the chunk's loud vowels is unstressed: less open
DIP_HALF_WIDTH = 1  # frames either side of the quietest frame between two nuclei kept as consonant
QUIET_DB = 40.0  # a frame this far below the chunk's loud vowels in the voiced band is no speech, unless it hisses
FRICATIVE_HF = 0.3  # share of power above 3 kHz that makes a speech frame a fricative (S)
MIN_NUCLEUS_GAP_S = 0.08  # syllables come at most ~12 a second
CLOSURE_DEPTH_DB = 8.0  # a dip this far below both neighbouring nuclei is a stop or nasal closure
CLOSURE_BURST_HF = 0.1  # ... of the lips if its release has less than this share of its power above 3.5 kHz
RELEASE_RISE_DB = 6.0  # a closure's release is the first frame this much louder than its quietest
CLOSURE_HF_RATIO = 0.1  # ... if it is also not a fricative (little energy above 3 kHz)
MAX_CLOSURE_FRAMES = 25
MIN_CLOSURE_FRAMES = 2


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


def vowel_phone(f1: float, f2: float, weak: bool = False) -> str:
    """ARPAbet stand-in for a vowel of formants ``f1``, ``f2`` Hz (open, rounded or mid); a ``weak``
    (unstressed) one opens the jaw less."""
    if f1 >= 650:
        return "AH1" if weak else "AA"
    if f2 < 1150:
        return "OW" if f1 >= 450 else "UW"
    return "EH" if f1 >= 450 and not weak else "IH"


@dataclass(frozen=True)
class _Frames:
    """Per 10 ms frame of one chunk: power spectra, level, voiced-band loudness (dB) and hiss share."""

    spec: np.ndarray
    db: np.ndarray
    loud: np.ndarray  # 250-2500 Hz (where vowels are loud), smoothed over 30 ms
    hf: np.ndarray  # share of the power above 3 kHz
    hf_burst: np.ndarray  # share of the power above 3.5 kHz
    speech: np.ndarray  # level above the clip's pause threshold


def _frames(samples: np.ndarray, threshold_db: float) -> _Frames:
    db = frame_db(samples)
    spec = _spectra(samples, len(db))
    f = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    total = spec.sum(axis=1) + 1e-10
    loud = _smooth(10 * np.log10(spec[:, (f >= 250) & (f <= 2500)].sum(axis=1) + 1e-10), 3)
    hf, burst = spec[:, f >= 3000].sum(axis=1) / total, spec[:, f >= 3500].sum(axis=1) / total
    speech = db >= threshold_db
    if speech.any():
        # Above the pause threshold but with next to nothing where voices are loud and no hiss either:
        # a hum or rumble under a pause, not speech (the mouth rests there).
        ref = float(np.percentile(loud[speech], 95))
        speech &= (loud >= ref - QUIET_DB) | (hf >= FRICATIVE_HF)
    return _Frames(spec, db, loud, hf, burst, speech)


def _nuclei(fr: _Frames) -> np.ndarray:
    """Frames of the syllable nuclei: voiced-band loudness peaks that stand out from the dips around them."""
    from scipy.signal import find_peaks

    if not fr.speech.any():
        return np.zeros(0, dtype=int)
    # Loud enough to be a vowel of this chunk (a hum or breath in a pause is not).
    ref = float(np.percentile(fr.loud[fr.speech], 95))
    voiced = fr.speech & (fr.loud >= ref - NUCLEUS_FLOOR_DB) & (fr.hf < 0.5)  # a hiss peak is no vowel
    peaks, _ = find_peaks(np.where(voiced, fr.loud, fr.loud.min() - 40), prominence=NUCLEUS_PROMINENCE_DB,
                          distance=max(1, int(MIN_NUCLEUS_GAP_S * 100)))
    return peaks[voiced[peaks]]


def _dips(fr: _Frames, peaks: np.ndarray) -> np.ndarray:
    """The quietest frame between each two neighbouring nuclei (``len(peaks) - 1`` frames)."""
    return np.array([a + int(np.argmin(fr.loud[a : b + 1])) for a, b in zip(peaks[:-1], peaks[1:])], dtype=int)


def _label_nuclei(labels: np.ndarray, fr: _Frames, peaks: np.ndarray, dips: np.ndarray) -> None:
    """Each nucleus owns the frames around its peak within ``NUCLEUS_SPAN_DB``, up to the consonant
    frames kept either side of the dips: the jaw opens on every syllable and closes part way between."""
    n = len(labels)
    ref = float(np.percentile(fr.loud[fr.speech], 95)) if fr.speech.any() else 0.0
    for i, p in enumerate(peaks):
        left = dips[i - 1] + DIP_HALF_WIDTH + 1 if i > 0 else 0
        right = dips[i] - DIP_HALF_WIDTH - 1 if i < len(dips) else n - 1
        lo = hi = p
        while lo > max(left, 0) and fr.speech[lo - 1] and fr.loud[lo - 1] >= fr.loud[p] - NUCLEUS_SPAN_DB:
            lo -= 1
        while hi < min(right, n - 1) and fr.speech[hi + 1] and fr.loud[hi + 1] >= fr.loud[p] - NUCLEUS_SPAN_DB:
            hi += 1
        spec = fr.spec[max(0, p - 1) : p + 2].mean(axis=0)
        labels[lo : hi + 1] = vowel_phone(*_formants(spec), weak=fr.loud[p] < ref - WEAK_NUCLEUS_DB)


def _label_closures(labels: np.ndarray, fr: _Frames, peaks: np.ndarray, dips: np.ndarray) -> None:
    """Lip closures (``M``): a deep dip between two nuclei that is no fricative and that is released
    without a hiss. Any stop or nasal makes such a dip; the lips' release is the one whose burst has
    little power above 3.5 kHz (t, k and the fricatives hiss there)."""
    # Hiss above 3 kHz at speech level is a fricative; in a near-silent dip the spectrum is the noise floor's.
    fricative = (fr.hf >= CLOSURE_HF_RATIO) & fr.speech
    loud = fr.loud
    for a, b, k in zip(peaks[:-1], peaks[1:], dips):
        depth = min(loud[a], loud[b]) - loud[k]
        if depth < CLOSURE_DEPTH_DB or fricative[k]:
            continue
        lo, hi = k, k
        while lo > a and loud[lo - 1] <= loud[k] + 6 and not fricative[lo - 1]:
            lo -= 1
        while hi < b and loud[hi + 1] <= loud[k] + 6 and not fricative[hi + 1]:
            hi += 1
        # The release: the first frame after the quietest one that is well above it (not the noise floor).
        r = k + 1 + int(np.argmax(fr.db[k + 1 : b + 1] >= fr.db[k] + RELEASE_RISE_DB))
        if fr.hf_burst[r : r + 2].max() >= CLOSURE_BURST_HF:
            continue
        # 20 to 250 ms: shorter dips are flaps, longer ones pauses (the mouth rests there)
        if MIN_CLOSURE_FRAMES <= hi - lo + 1 <= MAX_CLOSURE_FRAMES:
            labels[lo : hi + 1] = "M"


def _phones(labels: np.ndarray, offset_s: float, n_samples: int) -> list[Phone]:
    """Runs of equal frame labels as phones."""
    phones = []
    i, n = 0, len(labels)
    while i < n:
        j = i
        while j < n and labels[j] == labels[i]:
            j += 1
        phones.append(Phone(str(labels[i]), offset_s + i * HOP / ANALYSIS_RATE, offset_s + min(j * HOP, n_samples) / ANALYSIS_RATE))
        i = j
    return phones


def chunk_phones(samples: np.ndarray, threshold_db: float, offset_s: float = 0.0) -> tuple[list[Phone], np.ndarray]:
    """Pseudo-phones of one chunk (16 kHz mono float32) and the times (s) of its syllable nuclei.

    ``threshold_db``: level below which a 10 ms frame is pause (from the whole clip).
    """
    fr = _frames(samples, threshold_db)
    if len(fr.db) == 0:
        return [], np.zeros(0)
    peaks = _nuclei(fr)
    dips = _dips(fr, peaks)
    labels = np.where(fr.speech, "T", "SIL").astype(object)
    labels[fr.speech & (fr.hf >= FRICATIVE_HF)] = "S"
    _label_nuclei(labels, fr, peaks, dips)
    _label_closures(labels, fr, peaks, dips)
    return _phones(labels, offset_s, len(samples)), offset_s + peaks * HOP / ANALYSIS_RATE


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


def stretch_phones(chunk: np.ndarray, offset_s: float, threshold_db: float) -> list[Phone]:
    """``phone_batches``' fallback: the pseudo-phones of a stretch that could not be aligned
    (``threshold_db``: the whole clip's pause level)."""
    return chunk_phones(chunk, threshold_db, offset_s)[0]
