"""Ctrl-C during a render: exit 130, nothing at the output path, no temp file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def test_sigint_mid_render_leaves_nothing(tmp_path, example_face):
    speech, sr = sf.read(os.path.join(os.path.dirname(example_face), "speech.wav"), dtype="float32")
    long_audio = tmp_path / "long.wav"
    sf.write(long_audio, np.tile(speech, 6), sr)  # 66 s: long enough to interrupt mid-way
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "talkcli", "render", "--ref", str(example_face), "--audio", str(long_audio),
         "-o", str(out), "--preset", "smoke", "--device", "cpu", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    # Wait until frames are being encoded (the hidden temp file exists), then press Ctrl-C.
    while time.time() < deadline and not any(p.name.endswith(".part.mp4") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]
