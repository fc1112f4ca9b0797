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

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
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
