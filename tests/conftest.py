"""Shared fixtures: small inputs made from the public-domain examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
from speech_fixture import SPEECH_START_S


@pytest.fixture(scope="session")
def example_face() -> Path:
    return EXAMPLES / "face.jpg"


@pytest.fixture(scope="session")
def speech_with_pauses(tmp_path_factory) -> Path:
    """~3.9 s at 16 kHz: 0.8 s quiet room noise, 2.05 s of the JFK example ("And so my fellow
    Americans"), 1.05 s quiet room noise. The noise floor is -66 dBFS, not digital silence."""
    speech, sr = sf.read(EXAMPLES / "speech.wav", dtype="float32")
    assert sr == 16000
    words = speech[int(0.25 * sr) : int(2.3 * sr)]
    rng = np.random.default_rng(0)
    quiet = lambda seconds: (rng.standard_normal(int(seconds * sr)) * 10 ** (-66 / 20)).astype(np.float32)
    clip = np.concatenate([quiet(SPEECH_START_S), words, quiet(1.05)])
    path = tmp_path_factory.mktemp("audio") / "speech_with_pauses.wav"
    sf.write(path, clip, sr, subtype="PCM_16")
    return path
