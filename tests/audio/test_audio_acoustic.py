"""Language-agnostic acoustic driver: nuclei on syllables, closures in deep dips, chunked like the English path."""

import numpy as np
import pytest

from talkcli.audio import acoustic as A

SR = 16000


def syllables(n: int, f1: float, f2: float, gap_s: float = 0.08, syl_s: float = 0.18, lead_s: float = 0.3) -> np.ndarray:
    """``n`` vowel-like syllables (a 120 Hz pulse train through two formant resonances) split by silent gaps."""
    from scipy.signal import lfilter

    t = np.arange(int(syl_s * SR))
    src = (t % (SR // 120) == 0).astype(np.float64)
    y = src
    for f in (f1, f2):
        r = np.exp(-np.pi * 90 / SR)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], y)
    y = y / np.max(np.abs(y)) * 0.3 * np.hanning(len(y)) ** 0.3
    parts = [np.zeros(int(lead_s * SR))]
    for _ in range(n):
        parts += [y, np.zeros(int(gap_s * SR))]
    parts.append(np.zeros(int(lead_s * SR)))
    return np.concatenate(parts).astype(np.float32)


def test_one_nucleus_per_syllable_and_closures_in_the_gaps():
    x = syllables(6, 750, 1300)
    nuclei = A.syllable_nuclei(x)
    assert len(nuclei) == 6
    starts = 0.3 + np.arange(6) * 0.26
    assert np.all(np.abs(nuclei - (starts + 0.09)) < 0.06)  # each near its syllable's middle
    phones = [p for b in A.acoustic_batches(x) for p in b.phones]
    assert sum(p.name == "M" for p in phones) == 5  # the lips close between syllables, not before or after
    assert {p.name for p in phones if p.name not in ("M", "SIL", "T")} == {"AA"}  # F1 750 Hz: an open vowel


@pytest.mark.parametrize("f1,f2,want", [(750, 1300, "AA"), (350, 800, "UW"), (380, 2200, "IH")])
def test_vowel_class_follows_the_formants(f1, f2, want):
    x = syllables(1, f1, f2, syl_s=0.3)
    phones = [p for b in A.acoustic_batches(x) for p in b.phones]
    assert want in [p.name for p in phones]


def test_resumed_batches_equal_the_tail_of_an_uninterrupted_run():
    x = np.concatenate([syllables(8, 700, 1200), syllables(8, 400, 900)])
    full = list(A.acoustic_batches(x, max_chunk_s=1.5))
    assert len(full) >= 3 and [b.end_s for b in full] == sorted(b.end_s for b in full)
    cut = full[1].end_s
    assert list(A.acoustic_batches(x, max_chunk_s=1.5, start_s=cut)) == full[2:]


def test_cues_with_a_non_english_language_use_the_acoustic_driver(tmp_path):
    import soundfile as sf

    from talkcli.api import cues
    from talkcli.config.settings import load_settings

    x = syllables(5, 750, 1300)
    sf.write(tmp_path / "de.wav", x, SR, subtype="FLOAT")
    frames = cues(tmp_path / "de.wav", settings=load_settings(None, {"audio.lang": "de"}))
    assert len(frames) == int(np.ceil(len(x) * 25 / SR))
    assert "open" in frames and "closed" in frames and frames[0] == "silence"


def connected_speech(n: int = 8, syl_s: float = 0.2, lead_s: float = 0.3) -> np.ndarray:
    """``n`` syllables run together without pauses: each vowel (pulse train through two resonances)
    fades to 8 dB down at the syllable edges, as connected speech does through its consonants."""
    from scipy.signal import lfilter

    t = np.arange(int(n * syl_s * SR))
    y = (t % (SR // 120) == 0).astype(np.float64)
    for f in (700, 1250):
        r = np.exp(-np.pi * 90 / SR)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / SR), r * r], y)
    phase = (t / SR / syl_s) % 1.0
    y = y / np.max(np.abs(y)) * 0.3 * (0.4 + 0.6 * np.sin(np.pi * phase) ** 2)
    pad = np.zeros(int(lead_s * SR))
    return np.concatenate([pad, y, pad]).astype(np.float32)


def jaw_curve(x: np.ndarray, fps: int = 25) -> np.ndarray:
    """The jaw opening of every video frame, through the acoustic driver and the motion generator."""
    from talkcli.audio.plan import plan_blocks
    from talkcli.motion.generator import MotionConfig, MotionGenerator

    plan = plan_blocks(len(x), SR, fps)
    gen = MotionGenerator(plan, A.acoustic_batches(x), MotionConfig(head_motion=0.0))
    return np.concatenate([b.mouth[:, 0] for b in gen.blocks()])


def test_the_jaw_opens_on_every_syllable_of_a_phrase_and_does_not_plateau():
    from scipy.signal import find_peaks

    x = connected_speech(8)
    jaw = jaw_curve(x)
    peaks, _ = find_peaks(jaw, prominence=0.1)
    centres = (0.3 + (np.arange(8) + 0.5) * 0.2) * 25
    assert len(peaks) == 8
    assert np.all(np.abs(peaks - centres) <= 1.5)  # each peak on its syllable's middle frame
    # between two syllables the jaw falls well below the peaks around it
    for a, b in zip(peaks[:-1], peaks[1:]):
        assert jaw[a : b + 1].min() < 0.6 * min(jaw[a], jaw[b])


def test_a_hum_under_a_pause_does_not_hold_the_mouth_open():
    t = np.arange(int(1.5 * SR)) / SR
    hum = (0.02 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)  # steady, below the voiced band
    x = np.concatenate([syllables(3, 750, 1300, lead_s=0.1), hum, syllables(3, 750, 1300, lead_s=0.1)])
    phones = [p for b in A.acoustic_batches(x) for p in b.phones]
    start = len(syllables(3, 750, 1300, lead_s=0.1)) / SR
    inside = [p for p in phones if p.end_s > start + 0.1 and p.start_s < start + 1.4]
    assert inside and all(p.name == "SIL" for p in inside)


def test_a_release_that_hisses_is_no_lip_closure():
    """Two syllables split by silence: released quietly (like p) the gap is a closure; released with a
    burst of hiss above 3.5 kHz (like t) it is not."""
    x = syllables(2, 750, 1300)
    assert sum(p.name == "M" for b in A.acoustic_batches(x) for p in b.phones) == 1
    onset = int((0.3 + 0.18 + 0.08) * SR)
    burst = np.random.default_rng(0).standard_normal(int(0.015 * SR))
    from scipy.signal import butter, sosfilt

    burst = sosfilt(butter(4, 4000, "highpass", fs=SR, output="sos"), burst)
    y = x.copy()
    y[onset - len(burst) // 2 : onset - len(burst) // 2 + len(burst)] += (0.2 * burst / np.max(np.abs(burst))).astype(np.float32)
    assert sum(p.name == "M" for b in A.acoustic_batches(y) for p in b.phones) == 0
