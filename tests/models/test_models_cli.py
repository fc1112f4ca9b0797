"""talk models: the table, and exit codes for missing, wrong and absent-but-optional files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from talkcli.cli.app import app
from talkcli.errors import ExitCode

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TALK_MODELS", raising=False)


def _row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name} " in line)


def test_lists_every_model_and_an_absent_optional_file_is_not_an_error(tmp_path):
    result = runner.invoke(app, ["models", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("face_detection", "face_landmarks", "acoustic_model", "phone_lm", "dictionary"):
        assert "ok" in _row(result.output, name)
    assert "missing" in _row(result.output, "gfpgan") and "GFPGANv1.4" in _row(result.output, "gfpgan")
    assert str(tmp_path / "GFPGANv1.4.pth") in result.output  # where to put it


def test_a_wrong_file_exits_with_the_environment_code(tmp_path):
    (tmp_path / "GFPGANv1.4.pth").write_bytes(b"not the weights")
    result = runner.invoke(app, ["models", "--models-dir", str(tmp_path)])
    assert result.exit_code == ExitCode.ENVIRONMENT
    row = _row(result.output, "gfpgan")
    assert "bad" in row and "--models-dir" in result.output
    assert "wrong size" in result.output


def test_models_dir_must_exist(tmp_path):
    result = runner.invoke(app, ["models", "--models-dir", str(tmp_path / "nope")])
    assert result.exit_code == ExitCode.USAGE
    assert "is not a folder" in result.output
