"""talk batch --ray: the same videos as a local batch, a killed worker's item retried, Ray optional.

One local Ray cluster (2 CPUs, no dashboard, its files under the session's
tmp folder) serves the whole session; ``talk batch --ray`` in this process
uses that connection. It is shut down at the end of the session.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkcli.cli.app import app
from talkcli.errors import ExitCode
from talkcli.jobs.batch import plan_batch
from talkcli.mux.ffmpeg import find_ffmpeg, probe

runner = CliRunner()
SMOKE = ["--preset", "smoke", "--set", "render.device=cpu"]


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray")
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # Ray 2.60 turns token auth on for a new local cluster
    temp = tmp_path_factory.mktemp("ray")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _speech(example_face):
    return sf.read(example_face.parent / "speech.wav", dtype="float32")


def _h264_md5(path) -> str:
    """The MD5 of the video's H.264 stream, copied out without decoding."""
    cmd = [find_ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "h264", "-"]
    return hashlib.md5(subprocess.run(cmd, capture_output=True, check=True).stdout).hexdigest()


@pytest.mark.slow
def test_ray_batch_gives_the_same_videos_as_a_local_batch(tmp_path, example_face, ray_cluster):
    speech, sr = _speech(example_face)
    clips = tmp_path / "clips"
    clips.mkdir()
    for k, name in enumerate("abc"):
        sf.write(clips / f"{name}.wav", speech[int(3 * k * sr) : int((3 * k + 1) * sr)], sr)
    (clips / "broken.wav").write_text("not audio at all")
    runs = {}
    for mode, extra in (("local", ["--workers", "1"]), ("ray", ["--ray", "auto"])):
        out = tmp_path / mode
        out.mkdir()
        args = ["batch", str(clips), "--ref", str(example_face), "-o", str(out), *SMOKE, *extra]
        runs[mode] = runner.invoke(app, [*args, "--progress", "json"])
        assert runs[mode].exit_code == ExitCode.PARTIAL == 3, runs[mode].output
        assert "3 rendered, 0 skipped, 1 failed" in runs[mode].output
        assert sorted(p.name for p in out.glob("*.mp4")) == ["a.mp4", "b.mp4", "c.mp4"]
    for name in "abc":
        assert probe(tmp_path / "ray" / f"{name}.mp4").video.n_frames == 25
        assert _h264_md5(tmp_path / "ray" / f"{name}.mp4") == _h264_md5(tmp_path / "local" / f"{name}.mp4"), name
    events = [json.loads(line) for line in runs["ray"].output.splitlines() if line.startswith("{")]
    statuses = [(e["item"], e["status"]) for e in events if e["event"] == "item"]
    for name in "abc":
        assert [s for item, s in statuses if item == name] == ["queued", "running", "done"], statuses
    assert ("broken", "failed") in statuses
    assert any(e["event"] == "progress" for e in events)
    again = runner.invoke(app, ["batch", str(clips), "--ref", str(example_face), "-o", str(tmp_path / "ray"), *SMOKE, "--ray", "auto", "-q"])
    assert "0 rendered, 3 skipped, 1 failed" in again.output, again.output


def _long_item_batch(tmp_path, example_face, seconds: float):
    speech, sr = _speech(example_face)
    clips = tmp_path / "clips"
    clips.mkdir()
    long = np.tile(speech, int(seconds * sr) // len(speech) + 1)
    sf.write(clips / "long.wav", long[: int(seconds * sr)], sr)
    out = tmp_path / "out"
    out.mkdir()
    return plan_batch(clips, example_face, None, out), out


def _run_killing(items, retries: int, kill_at_frame: int, kills: int):
    """run_batch_ray on ``items``, SIGKILLing the worker rendering item 0 ``kills`` times, each
    once it reported ``kill_at_frame`` frames; returns (killed pids, item statuses seen, outputs seen at each kill)."""
    from talkcli.jobs.ray_batch import run_batch_ray

    killed, seen, output_at_kill = [], [], []

    def on_item(i, item):
        seen.append((item.status, item.message))

    def on_event(i, event):
        item = items[i]
        pid = int(item.worker.rsplit(":", 1)[1])
        if len(killed) < kills and event.done >= kill_at_frame and pid not in killed:
            output_at_kill.append(item.out.exists())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    run_batch_ray(items, address="auto", preset="smoke", flags={}, job_file=None,
                  overwrite=False, workers=1, on_item=on_item, on_event=on_event, retries=retries)  # fmt: skip
    return killed, seen, output_at_kill


@pytest.mark.slow
def test_a_killed_worker_leaves_no_partial_output_and_its_item_is_rendered_on_a_fresh_one(tmp_path, example_face, ray_cluster):
    items, out = _long_item_batch(tmp_path, example_face, 20.0)
    killed, seen, output_at_kill = _run_killing(items, retries=2, kill_at_frame=40, kills=1)
    assert len(killed) == 1 and output_at_kill == [False]
    assert any(status == "queued" and "worker died" in message for status, message in seen), seen
    assert items[0].status == "done", items[0].message
    assert probe(out / "long.mp4").video.n_frames == 500
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".talk-")) == ["long.mp4"]


@pytest.mark.slow
def test_an_item_whose_workers_keep_dying_fails_after_the_retries(tmp_path, example_face, ray_cluster):
    items, out = _long_item_batch(tmp_path, example_face, 20.0)
    killed, seen, output_at_kill = _run_killing(items, retries=1, kill_at_frame=5, kills=2)
    assert len(killed) == 2 and output_at_kill == [False, False]
    assert items[0].status == "failed" and "worker died 2 time(s)" in items[0].message, items[0].message
    assert list(p.name for p in out.iterdir() if not p.name.startswith(".talk-")) == []


def test_without_ray_the_flag_names_the_install_command(tmp_path, example_face, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = runner.invoke(app, ["batch", str(tmp_path), "--ref", str(example_face), "--ray", "local"])
    assert result.exit_code == ExitCode.ENVIRONMENT == 6, result.output
    assert "pip install 'talkcli[ray]'" in result.output


def test_a_bad_address_is_a_usage_error(tmp_path, example_face):
    result = runner.invoke(app, ["batch", str(tmp_path), "--ref", str(example_face), "--ray", "clips/"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "not a cluster address" in result.output


def test_items_the_driver_cannot_reach_fail_before_anything_is_sent(tmp_path, example_face, monkeypatch):
    pytest.importorskip("ray")
    from talkcli.jobs.batch import BatchItem
    from talkcli.jobs.ray_batch import run_batch_ray

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.wav").write_bytes(b"")
    items = [
        BatchItem("gone", example_face, tmp_path / "missing.wav", tmp_path / "gone.mp4"),
        BatchItem("nofolder", example_face, tmp_path / "a.wav", tmp_path / "no" / "such" / "x.mp4"),
        # a photo named relative to the driver's folder: sent as an absolute path
        BatchItem("relative", Path(os.path.relpath(example_face, tmp_path)), tmp_path / "a.wav", tmp_path / "no2" / "y.mp4"),
    ]
    run_batch_ray(items, address="local", preset="smoke", flags={}, job_file=None, overwrite=False, workers=None,
                  on_item=lambda i, it: None, on_event=lambda i, e: None)  # fmt: skip  # nothing pending: no cluster started
    assert [it.status for it in items] == ["failed"] * 3
    assert "audio not found" in items[0].message and "every node" in items[0].message
    assert "output folder does not exist" in items[1].message
    assert items[2].ref.is_absolute() and items[2].ref == example_face


# -- one render across the cluster (talk render --ray) ----------------------------------


@pytest.mark.slow
def test_a_render_split_into_segments_on_ray_equals_the_local_render(tmp_path, example_face, ray_cluster):
    """16 s of speech in 2 s segments: the driver runs the phones and motion, two Ray workers
    render the segments from the recorded states; the H.264 stream is the local render's."""
    from talkcli.jobs.manifest import Manifest

    speech, sr = _speech(example_face)
    audio = tmp_path / "long.wav"
    sf.write(audio, np.tile(speech, 2)[: 16 * sr], sr)
    common = ["render", "--ref", str(example_face), "--audio", str(audio), *SMOKE, "--set", "jobs.segment_s=2", "--quiet"]
    local, on_ray = tmp_path / "local.mp4", tmp_path / "ray.mp4"
    result = runner.invoke(app, [*common, "-o", str(local)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*common, "-o", str(on_ray), "--ray", "auto", "--job-dir", str(tmp_path / "job")])
    assert result.exit_code == 0, result.output
    assert _h264_md5(on_ray) == _h264_md5(local)
    assert probe(on_ray).video.n_frames == probe(local).video.n_frames == 400
    manifest = Manifest.load(tmp_path / "job")
    assert manifest.status == "complete" and len(manifest.segments) == 8


@pytest.mark.slow
def test_a_render_on_ray_resumes_a_job_started_locally(tmp_path, example_face, ray_cluster):
    """Half the segments rendered here, the rest on Ray: the same video as one uninterrupted render."""
    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings
    from talkcli.events import StageProgress
    from talkcli.jobs.manifest import Manifest

    speech, sr = _speech(example_face)
    audio = tmp_path / "a.wav"
    sf.write(audio, speech[: 8 * sr], sr)
    settings = load_settings("smoke", {"render.device": "cpu", "jobs.segment_s": 2})
    whole = tmp_path / "whole.mp4"
    render(RenderJob(example_face, audio, whole), settings)
    job = tmp_path / "job"
    out = tmp_path / "out.mp4"

    class Stop(Exception):
        pass

    def stop_in_the_third_segment(event):  # 2 s segments are 13 blocks of 4 frames: 0 and 1 are done past 104
        if isinstance(event, StageProgress) and event.stage == "render" and event.done > 104:
            raise Stop

    with pytest.raises(Stop):
        render(RenderJob(example_face, audio, out, job_dir=job), settings, stop_in_the_third_segment)
    assert [s.status for s in Manifest.load(job).segments] == ["done", "done", "pending", "pending"] and not out.exists()
    result = render(RenderJob(example_face, audio, out, job_dir=job, ray_address="auto"), settings)
    assert result.resumed_segments == 2
    assert _h264_md5(out) == _h264_md5(whole)


def test_ray_render_refuses_standard_output_and_enhancement(tmp_path, example_face):
    speech, sr = _speech(example_face)
    audio = tmp_path / "a.wav"
    sf.write(audio, speech[:sr], sr)
    base = ["render", "--ref", str(example_face), "--audio", str(audio), *SMOKE, "--ray", "local"]
    result = runner.invoke(app, [*base, "-o", str(tmp_path / "o.mp4"), "--enhance", "gfpgan"])
    assert result.exit_code == ExitCode.USAGE and "--enhance" in result.output
    result = runner.invoke(app, [*base, "-o", str(tmp_path / "o.mp4"), "--ray", "nowhere"])
    assert result.exit_code == ExitCode.USAGE


@pytest.mark.slow
def _segment_worker_pid() -> int:
    """The pid of a process Ray titled as a SegmentRenderer actor (``ray::SegmentRenderer...``)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::SegmentRenderer"):
                return int(entry.name)
    raise AssertionError("no SegmentRenderer worker process found")


def test_a_segment_whose_worker_is_killed_is_rendered_again_on_a_fresh_one(tmp_path, example_face, ray_cluster):
    import re
    import signal
    import threading
    import time

    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings
    from talkcli.events import Notice
    from talkcli.jobs.manifest import Manifest

    speech, sr = _speech(example_face)
    audio = tmp_path / "a.wav"
    sf.write(audio, np.tile(speech, 2)[: 16 * sr], sr)
    settings = load_settings("smoke", {"render.device": "cpu", "jobs.segment_s": 2})
    whole = tmp_path / "whole.mp4"
    render(RenderJob(example_face, audio, whole), settings)
    out, job = tmp_path / "out.mp4", tmp_path / "job"
    names, notices, outcome = [], [], {}

    def on_event(event):
        if isinstance(event, Notice):
            notices.append(event.message)
            names.extend(re.findall(r"\((talk-segments-[0-9a-f]+)-N\)", event.message))

    def run():
        try:
            outcome["result"] = render(RenderJob(example_face, audio, out, job_dir=job, ray_address="auto"), settings, on_event)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline and not (names and (job / "manifest.json").exists()
                                         and any(s.status == "done" for s in Manifest.load(job).segments)):
        time.sleep(0.05)
    pid = _segment_worker_pid()  # a worker busy with a segment (it answers no calls while it renders)
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert any("Ray worker died" in n for n in notices), notices
    assert not out.with_name(".out.mp4").exists()
    assert _h264_md5(out) == _h264_md5(whole)
