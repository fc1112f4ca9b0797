"""Exit codes when the world around the command misbehaves: closed standard streams,
a reader that quits early, a broken ffmpeg; and errors as JSON lines for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import talkcli
from talkcli.cli.app import app
from talkcli.cli.common import guarded
from talkcli.errors import AudioError, ExitCode, Terminated

runner = CliRunner()
# The subprocesses run the talkcli these tests import, wherever the working directory is.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(talkcli.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
TALK = [sys.executable, "-m", "talkcli"]


def talk_with(redirect: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run talk under ``sh`` with ``redirect`` (e.g. ``2>&-``) applied, so the stream starts closed."""
    command = ["sh", "-c", f'exec "$@" {redirect}', "sh", *TALK, *args]
    return subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, env=ENV, cwd=cwd, timeout=120)


def render_args(face: Path, out: str) -> list[str]:
    speech = Path(face).parent / "speech.wav"
    return ["render", "--ref", str(face), "--audio", str(speech), "-o", out, "--preset", "smoke", "--device", "cpu", "--quiet"]


def test_version_with_stderr_closed_exits_0():
    proc = talk_with("2>&-", "--version")
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("talk ")


def test_version_with_stdout_closed_is_an_output_error():
    proc = talk_with(">&-", "--version")
    assert proc.returncode == ExitCode.OUTPUT
    assert proc.stderr.decode().strip() == "error: standard output is closed: nothing reads it"


@pytest.mark.slow
def test_render_with_stderr_closed_renders(tmp_path, example_face):
    out = tmp_path / "out.mp4"
    proc = talk_with("2>&-", *render_args(example_face, str(out)), cwd=tmp_path)
    assert proc.returncode == 0
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_render_to_closed_stdout_is_an_output_error(tmp_path, example_face):
    proc = talk_with(">&-", *render_args(example_face, "-"), cwd=tmp_path)
    errors = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == ExitCode.OUTPUT, errors
    assert len(errors) == 1 and "standard output is closed" in errors[0]


@pytest.mark.slow
def test_reader_closing_stdout_is_an_output_error(tmp_path, example_face):
    # `talk render -o - | head -c 100`: head reads 100 bytes and quits mid-stream.
    proc = subprocess.Popen([*TALK, *render_args(example_face, "-")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=ENV, cwd=tmp_path)  # fmt: skip
    head = proc.stdout.read(100)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert len(head) == 100  # the video had started
    assert proc.returncode == ExitCode.OUTPUT, stderr
    errors = stderr.strip().splitlines()
    assert len(errors) == 1 and "standard output was closed by the reader" in errors[0]
    assert "resume" not in errors[0]  # rerunning into the same reader would not help


def test_ffmpeg_that_does_not_work_is_an_environment_error(tmp_path, example_face):
    result = runner.invoke(app, [*render_args(example_face, str(tmp_path / "o.mp4")), "--ffmpeg", "/bin/false"])
    assert result.exit_code == ExitCode.ENVIRONMENT, result.output
    assert "does not work as ffmpeg" in result.output and "TALK_FFMPEG" in result.output
    assert not (tmp_path / "o.mp4").exists()


# -- guarded(): the one handler, in text and in JSON ------------------------------


def _bug():
    raise ValueError("oops")


def _interrupt():
    raise KeyboardInterrupt


def _terminate():
    raise Terminated


def _no_audio():
    raise AudioError("x.wav holds no audio samples", hint="export it again")


def _reader_quit():
    raise BrokenPipeError(32, "Broken pipe")


CASES = [
    (_no_audio, ExitCode.INPUT, "x.wav holds no audio samples", "export it again"),
    (_interrupt, ExitCode.INTERRUPTED, "interrupted: nothing was written at the output path; run the same command again to resume", None),
    (_terminate, ExitCode.TERMINATED, "terminated: nothing was written at the output path; run the same command again to resume", None),
    (_reader_quit, ExitCode.OUTPUT, "standard output is closed: nothing reads it", None),
    (_bug, ExitCode.FAILURE, "unexpected ValueError: oops", "rerun with --traceback and report it"),
]


@pytest.mark.parametrize(("fail", "code", "message", "hint"), CASES)
def test_guarded_json_errors_are_one_json_line(capsys, monkeypatch, fail, code, message, hint):
    monkeypatch.setattr("talkcli.cli.common._discard_stdout", lambda: None)  # leave pytest's stdout alone
    with pytest.raises(typer.Exit) as info:
        with guarded(json_errors=True):
            fail()
    assert info.value.exit_code == code
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {"event": "error", "message": message, "hint": hint, "exit_code": int(code), "item": None}


@pytest.mark.parametrize(("fail", "code", "message", "hint"), CASES)
def test_guarded_text_errors_are_one_line(capsys, monkeypatch, fail, code, message, hint):
    monkeypatch.setattr("talkcli.cli.common._discard_stdout", lambda: None)
    with pytest.raises(typer.Exit) as info:
        with guarded():
            fail()
    assert info.value.exit_code == code
    lines = capsys.readouterr().err.splitlines()
    label = "error: " if code not in (ExitCode.INTERRUPTED, ExitCode.TERMINATED) else ""
    assert lines == [label + message + (f" (hint: {hint})" if hint else "")]
