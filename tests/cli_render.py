"""Shared by the bad-input and probe tests: a smoke render through the CLI, and its one error line."""

from __future__ import annotations

from typer.testing import CliRunner

from talkcli.cli.app import app

runner = CliRunner()


def render_cli(tmp_path, ref, audio, *extra, out=None):
    """``talk render --preset smoke --device cpu`` in-process: (result, output path)."""
    out = out or tmp_path / "out.mp4"
    args = ["render", "--ref", str(ref), "--audio", str(audio), "-o", str(out), "--preset", "smoke", "--device", "cpu"]
    return runner.invoke(app, [*args, *extra]), out


def one_error(result, hint: bool = False) -> str:
    """The single ``error: ...`` line of a failed command (with ``hint``: it must carry one, and no traceback)."""
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    if hint:
        assert "(hint: " in lines[0], lines[0]
        assert "Traceback" not in result.output and "unexpected" not in lines[0], result.output
    return lines[0]
