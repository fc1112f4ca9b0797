"""Bad input and hostile conditions: one-line error, documented exit code, nothing at the output path."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli.app import app
from cli_render import one_error as _one_error, render_cli as _render
from talkcli.errors import ExitCode

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture()
def short_speech(tmp_path, example_face):
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    path = tmp_path / "short.wav"
    sf.write(path, speech[: int(1.5 * sr)], sr, subtype="PCM_16")
    return path


def test_truncated_wav(tmp_path, example_face, short_speech):
    data = short_speech.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    result, out = _render(tmp_path, example_face, cut)
    assert result.exit_code == ExitCode.INPUT
    assert "truncated" in _one_error(result)
    assert not out.exists()


def test_zero_length_audio(tmp_path, example_face):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    result, out = _render(tmp_path, example_face, empty)
    assert result.exit_code == ExitCode.INPUT
    assert "no audio samples" in _one_error(result)
    assert not out.exists()


def test_silent_audio_renders_with_a_warning(tmp_path, example_face):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000, np.float32), 16000)
    result, out = _render(tmp_path, example_face, quiet)
    assert result.exit_code == 0, result.output
    assert "silent" in result.output and out.exists()


def test_overlong_audio_is_refused_unless_allowed(tmp_path, example_face, short_speech, monkeypatch):
    import talkcli.audio.speech

    monkeypatch.setattr(talkcli.audio.speech, "MAX_AUDIO_S", 1)
    result, out = _render(tmp_path, example_face, short_speech)
    assert result.exit_code == ExitCode.INPUT and "--allow-long" in _one_error(result)
    assert not out.exists()
    result, out = _render(tmp_path, example_face, short_speech, "--allow-long")
    assert result.exit_code == 0 and out.exists()


def test_several_faces_says_which_was_taken(tmp_path, example_face, short_speech):
    photo = Image.open(example_face).convert("RGB")
    w, h = photo.size
    both = Image.new("RGB", (w + w // 2, h), (200, 200, 200))
    both.paste(photo, (0, 0))
    both.paste(photo.resize((w // 2, h // 2)), (w, h // 4))
    group = tmp_path / "two.png"
    both.save(group)
    result, out = _render(tmp_path, group, short_speech)
    assert result.exit_code == 0, result.output
    assert "2 faces found" in result.output and "animating face 0" in result.output


def test_damaged_manifest_is_refused_with_fresh_hint(tmp_path, example_face, short_speech):
    job = tmp_path / "job"
    result, out = _render(tmp_path, example_face, short_speech, "--job-dir", str(job))
    assert result.exit_code == 0
    manifest = json.loads((job / "manifest.json").read_text())
    manifest["status"] = "rendering"  # edited by hand, checksum left as it was
    (job / "manifest.json").write_text(json.dumps(manifest))
    out.unlink()
    result, out = _render(tmp_path, example_face, short_speech, "--job-dir", str(job))
    assert result.exit_code == ExitCode.USAGE
    assert "--fresh" in _one_error(result)
    result, out = _render(tmp_path, example_face, short_speech, "--job-dir", str(job), "--fresh")
    assert result.exit_code == 0 and out.exists()


def _limit_file_size():
    # A "disk" that takes only 1.5 MB per file: the analysis audio fits, the first video segment
    # (lossless) does not. SIGXFSZ ignored so writers see EFBIG instead of dying.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))


def test_disk_full_during_render(tmp_path, example_face):
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    audio = tmp_path / "speech.wav"
    sf.write(audio, speech, sr, subtype="PCM_16")
    out = tmp_path / "out.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", str(audio), "-o", str(out),
         "--device", "cpu", "--set", "render.crop_only=true", "--set", "mux.crf=0", "--quiet"],
        capture_output=True, text=True, preexec_fn=_limit_file_size, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert proc.returncode == ExitCode.OUTPUT, proc.stderr
    assert "disk full" in proc.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.mp4.*"))  # no temp file beside the output


def test_stdout_output_and_stdin_audio_and_json_progress(tmp_path, example_face, short_speech):
    proc = subprocess.run(
        [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", "-", "-o", "-",
         "--preset", "smoke", "--device", "cpu", "--progress", "json", "--job-dir", str(tmp_path / "job")],
        input=short_speech.read_bytes(), capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    streamed = tmp_path / "streamed.mp4"
    streamed.write_bytes(proc.stdout)
    from talkcli.mux.ffmpeg import probe

    info = probe(streamed)
    assert info.video.n_frames == 38 and info.audio is not None  # ceil(1.5 s * 25)
    events = [json.loads(line) for line in proc.stderr.decode().splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress" and e["stage"] == "render"]
    assert progress and progress[-1]["frame"] == progress[-1]["total"] == 38
    assert {"stage", "frame", "total", "fps", "eta", "item"} <= set(progress[-1])
