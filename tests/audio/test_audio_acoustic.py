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
