"""talk eval on the command line: the JSON report, the Markdown summary and plots, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXAMPLES, write_clip
from typer.testing import CliRunner

from talkcli.cli.app import app
from talkcli.errors import ExitCode

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_json_report_and_plots(tmp_path, talking):
    out = tmp_path / "eval.json"
    folder = tmp_path / "report"
    result = runner.invoke(app, ["eval", str(talking), "--ref", str(EXAMPLES / "face.jpg"), "--json", str(out), "--report", str(folder), "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for key in ("av_offset_ms", "av_offset_confidence", "ebu_r37_pass"):
        assert key in data["sync"]
    assert data["mouth"]["face_detection_rate"] == 1.0
    assert 0 <= data["fidelity"]["background_changed_fraction"] < 0.05
    assert data["fidelity"]["face_psnr_db"] > 22
    assert data["silence"]["silence_closed_or_rest_fraction"] > 0.9
    assert data["speed"]["available"] and data["speed"]["frame_loop_fps"] > 0
    assert "audio is late" in data["key_doc"]["sync.av_offset_ms"]
    n = data["video"]["n_frames"]
    assert len(data["tracks"]["mouth_open_iod"]) == n == len(data["tracks"]["speech_envelope"])
    assert json.loads((folder / "report.json").read_text())["sync"] == data["sync"]
    md = (folder / "report.md").read_text()
    assert "av_offset_ms" in md and "![mouth_track.png](mouth_track.png)" in md
    for name in ("mouth_track.png", "offset.png", "contact_sheet.png", "background.png"):
        assert (folder / name).read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    assert "av_offset_ms" in result.stdout  # the summary table


@pytest.mark.slow
def test_json_to_stdout_is_pure_json(talking):
    result = runner.invoke(app, ["eval", str(talking), "--json", "-", "-q"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["schema"] == "talkcli.eval/1"


def test_nothing_to_evaluate_is_a_usage_error():
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == ExitCode.USAGE


def test_missing_video_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path / "nope.mp4")])
    assert result.exit_code == ExitCode.INPUT
    assert "not found" in result.output


def test_unwritable_json_target_fails_before_any_work(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not looked at")
    result = runner.invoke(app, ["eval", str(video), "--json", str(tmp_path / "no" / "eval.json")])
    assert result.exit_code == ExitCode.OUTPUT


@pytest.mark.slow
def test_video_without_audio_is_an_input_error(tmp_path, talking_frames):
    silent = write_clip(tmp_path / "mute.mp4", talking_frames[:10], None)
    result = runner.invoke(app, ["eval", str(silent)])
    assert result.exit_code == ExitCode.INPUT
    assert "no audio" in result.output


@pytest.mark.slow
def test_video_without_any_face_is_an_input_error(tmp_path, eval_speech):
    grey = np.full((12, 64, 64, 3), 128, np.uint8)
    result = runner.invoke(app, ["eval", str(write_clip(tmp_path / "grey.mp4", grey, eval_speech))])
    assert result.exit_code == ExitCode.INPUT
    assert "no face" in result.output


@pytest.mark.slow
def test_every_figure_is_explained(self_report):
    from talkcli.eval import KEY_DOC

    figures = self_report.figures
    missing = []
    for section, values in figures.items():
        if isinstance(values, dict):
            missing += [f"{section}.{key}" for key in values if f"{section}.{key}" not in KEY_DOC]
        elif section not in KEY_DOC:
            missing.append(section)
    assert not missing
