"""Mouth driver: noise floor, word sharing over chunks, transcript fallback, `talk cues`."""

import json

import numpy as np
import pytest
import soundfile as sf

from talkcli.audio import phonemes as P
from talkcli.motion.visemes import CLASSES

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def jfk():
    x, sr = sf.read(EXAMPLES / "speech.wav", dtype="float32")
    assert sr == 16000
    return x[: 5 * sr]  # "And so my fellow Americans, ask not"


@pytest.fixture(scope="module")
def recognizer():
    return P.PhoneRecognizer()


def test_noise_floor_is_deterministic_and_at_its_level():
    zeros = np.zeros(16000, np.float32)
    a, b = np.asarray(P.with_noise_floor(zeros, -60)), np.asarray(P.with_noise_floor(zeros, -60))
    np.testing.assert_array_equal(a, b)
    # The noise depends on the position only: slices read apart match the whole.
    lazy = P.with_noise_floor(zeros, -60)
    np.testing.assert_array_equal(np.concatenate([lazy[0:1234], lazy[1234:9000], lazy[9000:]]), a)
    assert 20 * np.log10(np.sqrt(np.mean(a**2))) == pytest.approx(-60, abs=0.3)


def test_split_words_is_proportional_and_prefers_clause_ends():
    weights = [2.0] * 10
    # Two chunks with equal speech: cut near the middle, moved to the comma after word 4.
    breaks = [False] * 10
    breaks[3] = True  # a comma after the 4th word: the next chunk starts at word 4
    assert P.split_words(weights, breaks, [1.0, 1.0]) == [4]
    assert P.split_words(weights, [False] * 10, [1.0, 1.0]) == [5]
    cuts = P.split_words(weights, [False] * 10, [1.0, 0.0, 3.0])
    assert cuts == sorted(cuts) and cuts[0] == cuts[1] <= 3


def test_transcript_alignment_is_used_and_ordered(jfk, recognizer):
    batches = list(P.phone_batches(jfk, recognizer, "And so my fellow Americans, ask not"))  # the words of the first 5 s
    assert all(b.aligned for b in batches)
    phones = [p for b in batches for p in b.phones]
    assert [p.start_s for p in phones] == sorted(p.start_s for p in phones)
    assert "M" in [p.name.rstrip("012") for p in phones]  # "my", "americans"


def test_wrong_transcript_never_gives_up(jfk, recognizer):
    # Words that are not in the audio (and far too many): every chunk still yields phones.
    long = np.concatenate([jfk, np.zeros(16000, np.float32), jfk])
    batches = list(P.phone_batches(long, recognizer, "banana " * 80, max_chunk_s=4.0))
    assert batches and batches[-1].end_s == pytest.approx(len(long) / 16000)
    assert sum(len(b.phones) for b in batches) > 10
    assert [b.end_s for b in batches] == sorted(b.end_s for b in batches)
    assert not all(b.aligned for b in batches)  # a recognised chunk is not reported as aligned


def test_talk_cues_json_and_tsv(tmp_path):
    from talkcli.cli.app import app

    wav = tmp_path / "s.wav"
    x, sr = sf.read(EXAMPLES / "speech.wav", dtype="float32")
    sf.write(wav, x[: 3 * sr + 123], sr)
    out = tmp_path / "c.json"
    assert app(["cues", str(wav), "-o", str(out)], standalone_mode=False) in (None, 0)
    obj = json.loads(out.read_text())
    assert obj["fps"] == 25 and len(obj["frames"]) == 76  # ceil((48123) * 25 / 16000)
    assert set(obj["frames"]) <= set(CLASSES) and len(set(obj["frames"])) >= 4
    tsv = tmp_path / "c.tsv"
    assert app(["cues", str(wav), "-f", "tsv", "-o", str(tsv), "--fps", "30"], standalone_mode=False) in (None, 0)
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert float(rows[0][0]) == 0.0 and all(r[1] in CLASSES for r in rows)
    assert [float(r[0]) for r in rows] == sorted(float(r[0]) for r in rows)


def test_strut_is_marked_open_and_schwa_stays_mid():
    from talkcli.motion.visemes import phone_class

    cup = P.mark_strut("cup", [P.Phone("K", 0.0, 0.05), P.Phone("AH", 0.05, 0.15), P.Phone("P", 0.15, 0.2)])
    assert [p.name for p in cup] == ["K", "AH1", "P"] and phone_class(cup[1].name) == "open"
    the = [P.Phone("DH", 0.0, 0.03), P.Phone("AH", 0.03, 0.08)]
    assert P.mark_strut("the", the) == the  # a weak function word keeps its schwa
    # "about": the AH is short and first, the stressed AW is the longest vowel.
    about = [P.Phone("AH", 0.0, 0.04), P.Phone("B", 0.04, 0.1), P.Phone("AW", 0.1, 0.3), P.Phone("T", 0.3, 0.35)]
    assert P.mark_strut("about", about) == about
    # "mother": the first, longest vowel is the stressed one.
    mother = [P.Phone("M", 0, 0.06), P.Phone("AH", 0.06, 0.18), P.Phone("DH", 0.18, 0.22), P.Phone("ER", 0.22, 0.3)]
    assert P.mark_strut("mother", mother)[1].name == "AH1"
    # ... also where the unstressed -er is drawn out, and in "become", whose strut is its last vowel.
    mother = mother[:3] + [P.Phone("ER", 0.22, 0.45)]
    assert P.mark_strut("mother", mother)[1].name == "AH1"
    become = [P.Phone("B", 0, 0.05), P.Phone("IH", 0.05, 0.1), P.Phone("K", 0.1, 0.15), P.Phone("AH", 0.15, 0.3), P.Phone("M", 0.3, 0.4)]
    assert P.mark_strut("become", become)[3].name == "AH1"
    sofa = [P.Phone("S", 0, 0.1), P.Phone("OW", 0.1, 0.25), P.Phone("F", 0.25, 0.3), P.Phone("AH", 0.3, 0.5)]
    assert P.mark_strut("sofa", sofa) == sofa  # a word-final AH is a schwa, however long
    assert phone_class("AH") == "mid"


def test_gating_keeps_short_bilabial_closures_in_quiet_frames():
    db = np.full(100, -80.0, dtype=np.float32)  # everything below the threshold
    phones = [P.Phone("P", 0.10, 0.18), P.Phone("AA", 0.18, 0.40), P.Phone("M", 0.40, 0.70)]
    out = P.gate_silence(phones, db, -50.0)
    assert [p.name for p in out] == ["P", "SIL", "SIL"]  # a silent 80 ms p closure stays; a 300 ms "m" does not
    # A "b" stretched over the pause before it: a pause, then a closure that ends with the stop.
    out = P.gate_silence([P.Phone("B", 0.10, 0.40), P.Phone("AH", 0.40, 0.50)], db, -50.0)
    assert [(p.name, round(p.start_s, 3), round(p.end_s, 3)) for p in out[:2]] == [
        ("SIL", 0.10, round(0.40 - P.STOP_CLOSURE_S, 3)), ("B", round(0.40 - P.STOP_CLOSURE_S, 3), 0.40)]


def test_alignment_retries_with_wide_beams_where_the_default_search_fails(jfk, recognizer, monkeypatch):
    calls = []
    real = recognizer._aligner_decoder

    class Failing:
        def __init__(self, d):
            self.d = d

        def seg(self):
            return None

        def __getattr__(self, name):
            return getattr(self.d, name)

    def decoder(wide=False):
        calls.append(wide)
        return real(wide) if wide else Failing(real(False))

    monkeypatch.setattr(recognizer, "_aligner_decoder", decoder)
    phones = recognizer.align(jfk, "and so my fellow americans".split())
    assert phones and True in calls and False in calls
    assert "M" in [p.name for p in phones]


def test_speech_from_the_first_sample_gets_a_real_phone_alignment(recognizer, monkeypatch):
    # espeak-ng -v en-us -s 170, resampled to 16 kHz, silence cut at both ends: the first
    # word starts at sample 0. pocketsphinx's word search then starts its path with a
    # one-frame <s> that the phone pass cannot fit, and every word used to fall back to
    # evenly spread dictionary phones.
    x, sr = sf.read(Path(__file__).parent / "speech_starts_at_once.wav", dtype="float32")
    assert sr == 16000

    def no_spread(*args):
        raise AssertionError("fell back to spread dictionary phones")

    monkeypatch.setattr(recognizer, "_spread", no_spread)
    words = "a cheap ship sails through the shallow bay at dawn".split()
    phones = recognizer.align(np.asarray(P.with_noise_floor(x, -60.0)[:]), words)
    assert phones and [p.name.rstrip("012") for p in phones][:4] == ["AH", "CH", "IY", "P"]
    assert [p.start_s for p in phones] == sorted(p.start_s for p in phones)
    assert 0.0 <= phones[0].start_s and phones[-1].end_s <= len(x) / sr
    closures = [p for p in phones if p.name in ("P", "B")]
    assert len(closures) == 3  # cheap, ship, bay


def test_inflected_words_missing_from_the_dictionary_are_pronounced_from_their_stems(recognizer):
    lookup = {"prowl": "P R AW L", "stop": "S T AA P", "bus": "B AH S", "move": "M UW V", "want": "W AA N T", "cry": "K R AY"}.get
    assert P.derived_pronunciation("prowled", lookup) == "P R AW L D"
    assert P.derived_pronunciation("stopped", lookup) == "S T AA P T"  # doubled consonant
    assert P.derived_pronunciation("stopping", lookup) == "S T AA P IH NG"
    assert P.derived_pronunciation("buses", lookup) == "B AH S IH Z"
    assert P.derived_pronunciation("moved", lookup) == "M UW V D"  # the stem's final e
    assert P.derived_pronunciation("wanted", lookup) == "W AA N T IH D"
    assert P.derived_pronunciation("cried", lookup) == "K R AY D"
    assert P.derived_pronunciation("xyzzy", lookup) is None
    # The transcript keeps such a word (it used to be dropped, and its sound went to its neighbours).
    words, _ = P._transcript_words(recognizer, "A hungry bear prowled around.")
    assert words == ["a", "hungry", "bear", "prowled", "around"]


def test_quiet_edges_of_phones_next_to_a_pause_go_back_to_the_pause():
    # 10 ms frames: speech (-20 dB) 0.30-0.60 s and 0.90-1.20 s, a pause (-80 dB) between.
    db = np.full(150, -80.0, dtype=np.float32)
    db[30:60] = db[90:120] = -20.0
    phones = [P.Phone("AA", 0.30, 0.50), P.Phone("Z", 0.50, 0.75),  # the z runs on into the pause
              P.Phone("DH", 0.80, 0.95), P.Phone("AH", 0.95, 1.05),  # the dh starts inside it
              P.Phone("T", 1.05, 1.20), P.Phone("K", 1.30, 1.50)]
    out = [(p.name, round(p.start_s, 2), round(p.end_s, 2)) for p in P.trim_pause_edges(phones, db, -50.0)]
    assert out[:6] == [("AA", 0.30, 0.50), ("Z", 0.50, 0.60), ("SIL", 0.60, 0.75),
                       ("SIL", 0.80, 0.90), ("DH", 0.90, 0.95), ("AH", 0.95, 1.05)]
    # A phone wholly in quiet is left to gate_silence; a stop keeps its silent closure.
    assert out[6:] == [("T", 1.05, 1.20), ("K", 1.30, 1.50)]
    k = P.trim_pause_edges([P.Phone("SIL", 0.6, 0.7), P.Phone("K", 0.70, 0.95)], db, -50.0)
    assert [(p.name, round(p.start_s, 3), round(p.end_s, 3)) for p in k] == [
        ("SIL", 0.6, 0.7), ("SIL", 0.70, round(0.90 - P.STOP_CLOSURE_S, 3)), ("K", round(0.90 - P.STOP_CLOSURE_S, 3), 0.95)]


def test_an_r_after_a_vowel_is_part_of_the_vowel():
    four = [P.Phone("F", 0.0, 0.08), P.Phone("AO", 0.08, 0.2), P.Phone("R", 0.2, 0.3)]
    assert P.rhotic_vowels(four) == [P.Phone("F", 0.0, 0.08), P.Phone("AO", 0.08, 0.3)]
    carry = [P.Phone("K", 0.0, 0.05), P.Phone("EH", 0.05, 0.15), P.Phone("R", 0.15, 0.2), P.Phone("IY", 0.2, 0.3)]
    assert P.rhotic_vowels(carry) == carry  # an r before a vowel is a consonant
    word = [P.Phone("W", 0.0, 0.05), P.Phone("ER", 0.05, 0.2), P.Phone("D", 0.2, 0.25)]
    assert P.rhotic_vowels(word) == word
    horse = [P.Phone("HH", 0.0, 0.05), P.Phone("AO", 0.05, 0.2), P.Phone("R", 0.2, 0.26), P.Phone("S", 0.26, 0.35)]
    assert [p.name for p in P.rhotic_vowels(horse)] == ["HH", "AO", "S"]
