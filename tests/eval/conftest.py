"""Shared, expensive inputs for the eval tests: one small talking render and its measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LEAD_S, TAIL_S = 0.6, 0.8  # room noise before and after the words


def smoke_settings(**flags):
    from talkcli.config.settings import load_settings

    return load_settings("smoke", {"render.device": "cpu", **flags})


@pytest.fixture(scope="session")
def eval_speech(tmp_path_factory) -> Path:
    """~5.6 s at 16 kHz: 0.6 s room noise (-66 dBFS), 4.2 s of the JFK example ("And so my fellow
    Americans, ask not"), 0.8 s room noise."""
    speech, sr = sf.read(EXAMPLES / "speech.wav", dtype="float32")
    rng = np.random.default_rng(1)
    quiet = lambda seconds: (rng.standard_normal(int(seconds * sr)) * 10 ** (-66 / 20)).astype(np.float32)
    clip = np.concatenate([quiet(LEAD_S), speech[int(0.2 * sr) : int(4.4 * sr)], quiet(TAIL_S)])
    path = tmp_path_factory.mktemp("eval_audio") / "speech.wav"
    sf.write(path, clip, sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def talking(tmp_path_factory, eval_speech) -> Path:
    """A smoke render (256 px crop) of examples/face.jpg speaking ``eval_speech``."""
    from talkcli.api import RenderJob, render

    out = tmp_path_factory.mktemp("eval_render") / "talking.mp4"
    render(RenderJob(EXAMPLES / "face.jpg", eval_speech, out), smoke_settings())
    return out


@pytest.fixture(scope="session")
def talking_analysis(talking):
    from talkcli.eval import analyse_video

    return analyse_video(talking)


@pytest.fixture(scope="session")
def talking_frames(talking) -> np.ndarray:
    """The decoded frames of ``talking``, ``(N, 256, 256, 3) uint8``."""
    from talkcli.mux.ffmpeg import read_frames

    return np.stack(list(read_frames(talking)))


def write_clip(path: Path, frames: np.ndarray, audio: Path | None, fps: int = 25, crf: int = 18) -> Path:
    """Encode ``frames`` (and ``audio``) with talk's own writer."""
    from fractions import Fraction

    from talkcli.mux.writer import VideoWriter

    h, w = frames.shape[1:3]
    with VideoWriter(path, w, h, Fraction(fps), audio, crf=crf, preset="ultrafast", overwrite=True) as writer:
        writer.write(frames)
    return path


@pytest.fixture(scope="session")
def self_report(talking):
    """``evaluate`` of the talking clip with itself as the real video (no render)."""
    from talkcli.eval import evaluate

    return evaluate(talking, real=talking, stills=1)
