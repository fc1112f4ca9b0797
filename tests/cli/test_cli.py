"""The command line: exit codes, one-line errors, nothing left at -o on failure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from talkcli import __version__
from talkcli.cli.app import app
from talkcli.errors import ExitCode

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_no_arguments_shows_usage():
    result = runner.invoke(app, ["render"])
    assert result.exit_code == ExitCode.USAGE


def _error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_photo_without_face_exits_with_input_code_and_writes_nothing(tmp_path, speech_with_pauses):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 180, np.uint8)).save(blank)
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["render", "--ref", str(blank), "--audio", str(speech_with_pauses), "-o", str(out), "--preset", "smoke", "--device", "cpu"])
    assert result.exit_code == ExitCode.INPUT == 4
    assert len(_error_lines(result)) == 1 and "no face" in _error_lines(result)[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [blank]


def test_missing_audio_is_an_input_error(tmp_path, example_face):
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "o.mp4")])
    assert result.exit_code == ExitCode.INPUT
    assert "not found" in result.output


def test_existing_output_needs_overwrite(tmp_path, example_face, speech_with_pauses):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"keep me")
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(speech_with_pauses), "-o", str(out)])
    assert result.exit_code == ExitCode.OUTPUT
    assert out.read_bytes() == b"keep me"


def test_output_directory_missing(tmp_path, example_face, speech_with_pauses):
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(speech_with_pauses), "-o", str(tmp_path / "no" / "o.mp4")])
    assert result.exit_code == ExitCode.OUTPUT
    assert "does not exist" in result.output


def test_output_equal_to_input_is_refused(tmp_path, example_face, speech_with_pauses):
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(speech_with_pauses), "-o", str(example_face), "--overwrite"])
    assert result.exit_code == ExitCode.OUTPUT
    assert "also an input" in result.output


@pytest.mark.parametrize("flags", [["--preset", "nope"], ["--size", "63"], ["--device", "tpu"], ["--fps", "0"], ["--head-motion", "5"]])
def test_bad_settings_are_usage_errors(tmp_path, example_face, speech_with_pauses, flags):
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(speech_with_pauses), "-o", str(tmp_path / "o.mp4"), *flags])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert len(_error_lines(result)) == 1


def test_bad_ffmpeg_is_an_environment_error(tmp_path, example_face, speech_with_pauses):
    result = runner.invoke(app, ["render", "--ref", str(example_face), "--audio", str(speech_with_pauses), "-o", str(tmp_path / "o.mp4"), "--ffmpeg", str(tmp_path / "no-ffmpeg")])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert not (tmp_path / "o.mp4").exists()


def test_config_show_lists_sources():
    result = runner.invoke(app, ["config", "show", "--preset", "smoke"])
    assert result.exit_code == 0
    assert "preset smoke" in result.output and "default" in result.output


def test_doctor_finds_ffmpeg_and_models():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "libx264" in result.output and "face_landmarks" in result.output
    assert "render kernels" in result.output and "numba" in result.output
    assert "extra: languages" in result.output and "extra: ray" in result.output


def test_doctor_reports_an_absent_extra_with_its_install_command(monkeypatch):
    import sys

    from talkcli.audio import espeak

    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # the languages extra is not installed
    monkeypatch.setattr(espeak, "_instance", None)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output  # an optional extra is no problem
    row = next(line for line in result.output.splitlines() if "extra: languages" in line)
    assert "absent" in row and "'talkcli[languages]'" in result.output  # the brackets are no style tag


@pytest.mark.slow
def test_several_reference_photos(tmp_path, example_face, speech_with_pauses):
    import json

    second = tmp_path / "second.png"
    Image.open(example_face).save(second)
    out = tmp_path / "o.mp4"
    job = tmp_path / "job"
    args = ["render", "--audio", str(speech_with_pauses), "-o", str(out), "--preset", "smoke", "--job-dir", str(job)]
    result = runner.invoke(app, [*args, "--ref", str(example_face), "--ref", str(second)])
    assert result.exit_code == 0, result.output
    inputs = json.loads((job / "manifest.json").read_text())["inputs"]
    assert set(inputs) == {"ref", "ref2", "audio"} and inputs["ref2"]["path"].endswith("second.png")
    too_many = runner.invoke(app, [*args, "--overwrite"] + ["--ref", str(example_face)] * 4)
    assert too_many.exit_code == ExitCode.USAGE and "at most 3" in too_many.output
