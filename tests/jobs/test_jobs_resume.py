"""Resumable jobs: SIGKILL at random moments, resume, and get exactly the uninterrupted video."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkcli.api import RenderJob, render
from talkcli.config.settings import load_settings
from talkcli.errors import ExitCode
from talkcli.jobs.manifest import JobError, JobLock, JobLocked, Manifest
from talkcli.mux.ffmpeg import probe, read_frames

pytestmark = pytest.mark.slow

SEGMENT_FLAGS = {"render.device": "cpu", "jobs.segment_s": 2.0}


@pytest.fixture(scope="module")
def speech20(tmp_path_factory, example_face) -> Path:
    """About 20 s of speech: the example clip twice, minus 2 s."""
    speech, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    path = tmp_path_factory.mktemp("speech") / "speech20.wav"
    sf.write(path, np.tile(speech, 2)[: 20 * sr], sr, subtype="PCM_16")
    return path


def _frames_digest(path: Path) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in read_frames(path)]


def _audio_digest(path: Path) -> str:
    from talkcli.audio.decode import decode_audio

    return hashlib.sha256(np.asarray(decode_audio(path).samples).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, example_face, speech20):
    out = tmp_path_factory.mktemp("reference") / "ref.mp4"
    render(RenderJob(example_face, speech20, out), load_settings("smoke", SEGMENT_FLAGS))
    return out, _frames_digest(out), _audio_digest(out)


def _done_segments(job_dir: Path) -> int:
    try:
        return sum(s["status"] == "done" for s in json.loads((job_dir / "manifest.json").read_text())["segments"])
    except (OSError, ValueError, KeyError):
        return 0


def test_sigkill_at_random_points_then_resume_gives_identical_video(tmp_path, example_face, speech20, reference):
    ref_out, ref_frames, ref_audio = reference
    out = tmp_path / "out.mp4"
    job_dir = tmp_path / "job"
    command = [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", str(speech20),
               "-o", str(out), "--preset", "smoke", "--device", "cpu", "--quiet", "--job-dir", str(job_dir),
               "--set", "jobs.segment_s=2"]  # fmt: skip
    rng = random.Random(1234)
    kills = 0
    for attempt in range(4):
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill at a random moment after some progress beyond what was already done.
        before = _done_segments(job_dir)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and _done_segments(job_dir) < before + 1:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert not out.exists()
    else:
        proc = None
    if proc is None or proc.returncode is None or proc.returncode != 0:
        final = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
        assert final.returncode == 0, final.stderr.decode()
    assert kills >= 2
    assert _frames_digest(out) == ref_frames
    assert _audio_digest(out) == ref_audio
    info = probe(out)
    assert info.video.n_frames == len(ref_frames)
    # Partial segments never survive a kill: only the manifest, timings and lock remain.
    leftovers = sorted(p.name for p in job_dir.iterdir())
    assert leftovers == ["lock", "manifest.json", "render.json", "segments.ffconcat"], leftovers


def test_resume_refuses_changed_inputs_and_settings(tmp_path, example_face, speech20):
    job_dir = tmp_path / "job"
    out = tmp_path / "o.mp4"
    settings = load_settings("smoke", SEGMENT_FLAGS)
    # A job interrupted after its first segment: simulate by rendering and marking it unfinished.
    render(RenderJob(example_face, speech20, out, job_dir=job_dir), settings)
    manifest = Manifest.load(job_dir)
    manifest.status = "rendering"
    manifest.segments[-1].status = "pending"
    manifest.save()
    out.unlink()
    with pytest.raises(JobError) as info:
        render(RenderJob(example_face, speech20, out, job_dir=job_dir), load_settings("smoke", {**SEGMENT_FLAGS, "mux.crf": 30}))
    assert "mux.crf 28 -> 30" in info.value.message and info.value.exit_code == ExitCode.USAGE
    louder = tmp_path / "louder.wav"
    samples, sr = sf.read(speech20, dtype="float32")
    sf.write(louder, samples * 0.5, sr, subtype="PCM_16")
    with pytest.raises(JobError, match="audio .* changed"):
        render(RenderJob(example_face, louder, out, job_dir=job_dir), settings)
    # --fresh starts over instead.
    result = render(RenderJob(example_face, louder, out, job_dir=job_dir, fresh=True), settings)
    assert result.resumed_segments == 0 and out.exists()


def test_edited_or_damaged_manifest_is_refused(tmp_path, example_face, speech20):
    job_dir = tmp_path / "job"
    out = tmp_path / "o.mp4"
    render(RenderJob(example_face, speech20, out, job_dir=job_dir), load_settings("smoke", SEGMENT_FLAGS))
    path = job_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["seed"] = 99  # a hand edit
    path.write_text(json.dumps(data))
    with pytest.raises(JobError, match="modified outside talk"):
        Manifest.load(job_dir)
    path.write_text(path.read_text()[:100])  # truncated
    with pytest.raises(JobError, match="damaged") as info:
        Manifest.load(job_dir)
    assert "--fresh" in info.value.hint


def test_second_process_on_the_same_job_is_locked_out(tmp_path):
    with JobLock(tmp_path):
        code = "import sys; from talkcli.jobs.manifest import JobLock; JobLock(__import__('pathlib').Path(sys.argv[1])).__enter__()"
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode != 0 and "JobLocked" in proc.stderr and str(os.getpid()) in proc.stderr
    with JobLock(tmp_path):  # released: can be taken again
        pass
    with pytest.raises(JobLocked):
        with JobLock(tmp_path):
            with JobLock(tmp_path):
                pass
