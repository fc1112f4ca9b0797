"""talk batch: items isolated, summary, exit code 3, finished items skipped on a re-run."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkcli.cli.app import app
from talkcli.errors import ExitCode
from talkcli.jobs.batch import plan_batch
from talkcli.mux.ffmpeg import probe

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture()
def audio_folder(tmp_path, example_face):
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    folder = tmp_path / "clips"
    folder.mkdir()
    sf.write(folder / "a.wav", speech[: int(1.2 * sr)], sr)
    sf.write(folder / "b.wav", speech[int(3 * sr) : int(4.0 * sr)], sr)
    (folder / "broken.wav").write_text("not audio at all")
    return folder


def test_folder_batch_isolates_failures_and_skips_finished_items(tmp_path, audio_folder, example_face):
    out = tmp_path / "out"
    out.mkdir()
    args = ["batch", str(audio_folder), "--ref", str(example_face), "-o", str(out), "--preset", "smoke", "--set", "render.device=cpu"]
    first = runner.invoke(app, args)
    assert first.exit_code == ExitCode.PARTIAL == 3, first.output
    assert sorted(p.name for p in out.glob("*.mp4")) == ["a.mp4", "b.mp4"]
    assert "2 rendered, 0 skipped, 1 failed" in first.output
    assert "broken" in first.output
    assert probe(out / "b.mp4").video.n_frames == 25
    second = runner.invoke(app, args)
    assert "0 rendered, 2 skipped, 1 failed" in second.output


def test_job_list_with_per_item_options(tmp_path, audio_folder, example_face):
    jobs = tmp_path / "jobs.jsonl"
    rows = [
        {"ref": str(example_face), "audio": str(audio_folder / "a.wav"), "out": "a_small.mp4", "face.size": 128},
        {"ref": str(example_face), "audio": str(audio_folder / "b.wav"), "out": "b_default.mp4"},
    ]
    jobs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(app, ["batch", str(jobs), "--preset", "smoke", "--set", "render.device=cpu", "--progress", "json"])
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "a_small.mp4").video.width == 128
    assert probe(tmp_path / "b_default.mp4").video.width == 256
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert {line["item"] for line in lines if line["event"] == "item" and line["status"] == "done"} == {"a", "b"}


def test_pairing_folders_by_stem(tmp_path, audio_folder, example_face):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "a.jpg").write_bytes(example_face.read_bytes())
    items = plan_batch(audio_folder, None, refs, tmp_path)
    by_name = {it.name: it for it in items}
    assert by_name["a"].ref == refs / "a.jpg" and by_name["a"].status == "pending"
    assert by_name["b"].status == "failed" and "no photo named b" in by_name["b"].message


def test_two_workers(tmp_path, audio_folder, example_face):
    (audio_folder / "broken.wav").unlink()
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(app, ["batch", str(audio_folder), "--ref", str(example_face), "-o", str(out), "--workers", "2",
                                 "--preset", "smoke", "--set", "render.device=cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.mp4")) == ["a.mp4", "b.mp4"]
