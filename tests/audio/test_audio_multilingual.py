"""Transcripts in other languages: IPA -> ARPAbet, language checks, eSpeak NG alignment."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from talkcli.audio.ipa import arpabet
from talkcli.audio.multilingual import check_english, check_script, looks_english
from talkcli.errors import EnvironmentProblem, ExitCode, UsageError


@pytest.mark.parametrize(
    "ipa, phones",
    [
        ("pˈaβlo", ["P", "AA", "B", "L", "OW"]),  # Spanish b between vowels: lips nearly shut
        ("bɔ̃ʒˈuʁ", ["B", "AO", "ZH", "UW", "R"]),  # nasal vowel: the tilde is dropped
        ("tɕhˈy5", ["CH", "UW"]),  # Mandarin: aspiration and tone digit belong to the syllable
        ("mˈarko", ["M", "AA", "R", "K", "OW"]),
        ("kˌo̞nnitɕˈihä", ["K", "OW", "N", "IY", "CH", "IY", "HH", "AA"]),  # doubled n: one sound
        ("t͡sait", ["T", "S", "AY", "T"]),
        ("ɡˈuːtən", ["G", "UW", "T", "AH", "N"]),
    ],
)
def test_ipa_words_become_arpabet(ipa, phones):
    assert arpabet(ipa) == phones


def test_language_switches_and_unknown_sounds_are_unreadable():
    assert arpabet("(en)tʃˈaɪniːz(ja)lˈe̞tə") is None  # eSpeak reading a kanji as "Chinese letter"
    assert arpabet("ǃ") is None  # a click


def test_a_transcript_in_another_script_is_refused():
    check_script("わたしは たなかです", "ja")
    check_script("Hola, me llamo Pablo", "es")
    check_script("我们明天去北京", "zh")
    with pytest.raises(UsageError, match="Hiragana"):
        check_script("わたしは たなかです", "en")
    with pytest.raises(UsageError, match="Latin"):
        check_script("Hola, me llamo Pablo", "ja")


def test_english_is_told_from_other_languages():
    english = "Bob bought a big blue map, but maybe the map is wrong after all."
    spanish = "Hola, me llamo Pablo y vivo en Barcelona con mi familia desde hace años."
    assert looks_english(english) is True
    assert looks_english(spanish) is False
    assert looks_english("Pablo Barcelona") is None  # too short to tell
    check_english(english)
    with pytest.raises(UsageError, match="does not read as English") as info:
        check_english(spanish)
    assert "--lang" in info.value.hint


def test_missing_extra_is_an_environment_error(monkeypatch):
    from talkcli.audio import espeak

    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import fails
    monkeypatch.setattr(espeak, "_instance", None)
    assert not espeak.available()
    with pytest.raises(EnvironmentProblem) as info:
        espeak.espeak()
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "talkcli[languages]" in info.value.hint


# --- with eSpeak NG (the languages extra) -------------------------------------------------------


def _speech(text: str, voice: str):
    """eSpeak speech at 16 kHz, with where each bilabial (p, b, m, β) starts and ends (s)."""
    from scipy.signal import resample_poly

    from talkcli.audio.espeak import espeak

    syn = espeak().synthesize(text, voice, rate_wpm=150)
    x = resample_poly(syn.samples, 320, 441).astype(np.float32)
    lips = [(p.start / syn.rate, p.end / syn.rate) for p in syn.phones if p.ipa.strip("ˈˌ") in ("p", "b", "m", "β")]
    return x, lips


def _driver(text: str, lang: str, samples: np.ndarray, warnings: list[str]):
    from talkcli.config.settings import load_settings
    from talkcli.engines import choose_driver
    from talkcli.job import Models

    settings = load_settings(flags={"audio.lang": lang})
    return choose_driver(settings, samples, text, Models(), warnings.append)


def test_spanish_transcript_closes_the_lips_on_every_bilabial():
    pytest.importorskip("espeakng_loader")
    text = "Pablo bebe mucho vino blanco en Barcelona."
    samples, lips = _speech(text, "es+f3")
    warnings: list[str] = []
    driver = _driver(text, "es", samples, warnings)
    phones = [p for b in driver.phone_batches() for p in b.phones]
    assert driver.name == "transcript" and driver.aligned and not warnings
    closed = [(p.start_s, p.end_s) for p in phones if p.name in ("P", "B", "M")]
    assert len(lips) >= 6
    for start, end in lips:
        # eSpeak bills a stop's silent closure to the sound before it: allow 60 ms before the event
        assert any(a < end + 0.04 and b > start - 0.06 for a, b in closed), (start, end, closed)


def test_an_unreadable_stretch_falls_back_to_the_audio_and_says_where():
    pytest.importorskip("espeakng_loader")
    from talkcli.audio.espeak import espeak

    text = "わたしは まいにち ぱんを たべます。 ともだちと びょういんに いきました。"
    samples, _ = _speech(text, "ja")
    pause = np.zeros(16000, np.float32)
    samples = np.concatenate([samples, pause, samples])
    warnings: list[str] = []
    # the second reading written with a kanji: eSpeak cannot read it, that stretch follows the audio
    driver = _driver(text + " " + text.replace("びょういん", "病院"), "ja", samples, warnings)
    batches = list(driver.phone_batches())
    assert any("kanji" in w for w in warnings)
    assert any(b.aligned for b in batches) and not all(b.aligned for b in batches)
    assert all(b.phones for b in batches)
    note = driver.unaligned_note()
    assert note and "failed for" in note
    assert espeak().has_voice("cmn") and not espeak().has_voice("xx")


def test_unknown_language_with_a_transcript_is_a_usage_error():
    pytest.importorskip("espeakng_loader")
    with pytest.raises(UsageError, match="no language 'qq'"):
        _driver("bla bla", "qq", np.zeros(16000, np.float32), [])


def test_cues_refuses_a_spanish_transcript_read_as_english(tmp_path):
    import soundfile as sf
    from typer.testing import CliRunner

    from talkcli.cli.app import app

    wav = tmp_path / "speech.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    text = tmp_path / "es.txt"
    text.write_text("Hola, me llamo Pablo y vivo en Barcelona con mi familia desde hace años.", encoding="utf-8")
    out = tmp_path / "cues.json"
    result = CliRunner().invoke(app, ["cues", str(wav), "--transcript", str(text), "-f", "json", "-o", str(out)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--lang" in result.output and not out.exists()


def test_cues_with_a_french_transcript_is_aligned(tmp_path):
    pytest.importorskip("espeakng_loader")
    import json

    import soundfile as sf
    from typer.testing import CliRunner

    from talkcli.cli.app import app

    sentence = "Bonjour, je m'appelle Pierre et nous buvons du bon vin à Paris."
    samples, lips = _speech(sentence, "fr+m2")
    wav = tmp_path / "speech.wav"
    sf.write(wav, samples, 16000)
    text = tmp_path / "fr.txt"
    text.write_text(sentence, encoding="utf-8")
    out = tmp_path / "cues.json"
    result = CliRunner().invoke(app, ["cues", str(wav), "--lang", "fr", "--transcript", str(text), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    frames = json.loads(out.read_text())["frames"]
    closed = {i for i, c in enumerate(frames) if c == "closed"}
    hits = sum(any(abs(i - k) <= 1 for k in closed) for i in (int((a + b) / 2 * 25) for a, b in lips))
    assert hits >= len(lips) - 1 >= 4


def test_batch_lang_applies_to_every_item(tmp_path):
    from talkcli.jobs.batch import plan_batch

    pytest.importorskip("espeakng_loader")
    import soundfile as sf
    from typer.testing import CliRunner

    from talkcli.cli.app import app

    clips = tmp_path / "clips"
    clips.mkdir()
    samples, _ = _speech("Pablo bebe vino.", "es")
    sf.write(clips / "a.wav", samples, 16000)
    (clips / "a.txt").write_text("Pablo bebe vino blanco con su madre en el mar de Barcelona.", encoding="utf-8")
    face = Path(__file__).resolve().parents[2] / "examples" / "face.jpg"
    out = tmp_path / "out"
    out.mkdir()
    args = ["batch", str(clips), "--ref", str(face), "-o", str(out), "--preset", "smoke", "-q"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == ExitCode.PARTIAL, refused.output
    assert "--lang" in refused.output and not (out / "a.mp4").exists()
    done = CliRunner().invoke(app, [*args, "--lang", "es"])
    assert done.exit_code == 0, done.output
    assert (out / "a.mp4").is_file() and len(plan_batch(clips, face, None, out)) == 1
