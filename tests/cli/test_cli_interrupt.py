"""Ctrl-C during a render: exit 130, nothing at the output path, no temp file beside it;
the same command afterwards resumes the job and finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def test_sigint_mid_render_then_resume(tmp_path, example_face):
    speech, sr = sf.read(os.path.join(os.path.dirname(example_face), "speech.wav"), dtype="float32")
    long_audio = tmp_path / "long.wav"
    # 66 s, seven segments: after the first one there is work enough left that a loaded machine
    # cannot finish the render between the manifest poll and the Ctrl-C.
    sf.write(long_audio, np.tile(speech, 6), sr)
    out = tmp_path / "out.mp4"
    command = [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", str(long_audio),
               "-o", str(out), "--preset", "smoke", "--device", "cpu", "--quiet"]

    def segments_done() -> int:
        for manifest in tmp_path.glob(".talk-*/manifest.json"):
            try:
                return sum(s["status"] == "done" for s in json.loads(manifest.read_text())["segments"])
            except (ValueError, KeyError):
                return 0
        return 0

    # A shell that starts the test suite in the background (cmd &) ignores SIGINT in its children,
    # and Python keeps an ignored SIGINT ignored: give the render the default disposition back.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    # Wait until the first segment is finished (the manifest says so), then press Ctrl-C.
    while time.time() < deadline and segments_done() < 1:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode() and "resume" in stderr.decode()
    visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".talk-"))
    assert visible == ["long.wav"]  # no output and no temp file beside it
    assert segments_done() >= 1

    again = subprocess.run(command[:-1], capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    assert "resuming" in again.stderr.decode()
    assert out.is_file()


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (a /proc scan; zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in cmdline:
            found.append(f"{entry}: {cmdline}")
    return found


def test_sigterm_mid_render_cleans_up_then_resume(tmp_path, example_face):
    """kill (SIGTERM) unwinds like Ctrl-C: exit 143, one message, temp folders gone, no ffmpeg left."""
    speech, sr = sf.read(os.path.join(os.path.dirname(example_face), "speech.wav"), dtype="float32")
    work = tmp_path / "work"
    work.mkdir()
    long_audio = work / "long.wav"
    sf.write(long_audio, np.tile(speech, 6), sr)  # 66 s: six more segments after the first
    out = work / "out.mp4"
    scratch = tmp_path / "tmp"  # TMPDIR of the render: its temp folders must not outlive it
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    command = [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", str(long_audio),
               "-o", str(out), "--preset", "smoke", "--device", "cpu", "--quiet"]

    def segments_done() -> int:
        for manifest in work.glob(".talk-*/manifest.json"):
            try:
                return sum(s["status"] == "done" for s in json.loads(manifest.read_text())["segments"])
            except (ValueError, KeyError):
                return 0
        return 0

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and segments_done() < 1:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    job_path = str(work / ".talk-")  # in the segment encoder's command line, not in talk's own
    while time.time() < deadline and not _processes_mentioning(job_path):  # the next segment's ffmpeg
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    assert _processes_mentioning(job_path), "no ffmpeg was encoding a segment when SIGTERM was sent"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    message = stderr.decode()
    assert proc.returncode == 143, message
    assert "terminated" in message and "resume" in message and len(message.strip().splitlines()) == 1
    assert sorted(p.name for p in scratch.iterdir()) == []  # talk-* temp folders removed
    assert _processes_mentioning(job_path) == []  # the segment's ffmpeg was ended, not orphaned
    visible = sorted(p.name for p in work.iterdir() if not p.name.startswith(".talk-"))
    assert visible == ["long.wav"]  # no output and no temp file beside it
    job_files = [p.name for p in work.glob(".talk-*/*")]
    assert not [name for name in job_files if ".part" in name], job_files  # no half-written segment
    assert segments_done() >= 1

    again = subprocess.run(command[:-1], capture_output=True, stdin=subprocess.DEVNULL, timeout=120, env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert "resuming" in again.stderr.decode()
    assert out.is_file()
