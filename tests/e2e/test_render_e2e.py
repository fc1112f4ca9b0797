"""End-to-end renders, measured on the output file: streams, frame count, mouth re-detected by FaceMesh."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from speech_fixture import SPEECH_END_S, SPEECH_START_S

from talkcli.api import RenderJob, render
from talkcli.config.settings import load_settings
from talkcli.face.detect import FaceLandmarker
from talkcli.mux.ffmpeg import probe, read_frames

pytestmark = pytest.mark.slow


def _smoke(**flags):
    return load_settings("smoke", {"render.device": "cpu", **flags})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, example_face, speech_with_pauses):
    out = tmp_path_factory.mktemp("render") / "out.mp4"
    events = []
    result = render(RenderJob(example_face, speech_with_pauses, out), _smoke(), events.append)
    return out, result, events


def test_streams_frame_count_and_duration(rendered, speech_with_pauses):
    out, result, _ = rendered
    info = probe(out)
    n_audio = sf.info(speech_with_pauses).frames
    duration = n_audio / 16000
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert info.audio.codec == "aac"
    assert info.video.fps == pytest.approx(25.0)
    assert info.video.n_frames == math.ceil(duration * 25) == result.n_frames
    assert 0 <= info.video.duration_s - duration < 1 / 25
    assert abs(info.audio.duration_s - duration) < 1 / 25
    assert (info.video.width, info.video.height) == (256, 256)


def test_mouth_open_in_speech_closed_in_silence(rendered):
    out, _, _ = rendered
    openness = []
    with FaceLandmarker() as landmarker:
        for frame in read_frames(out):
            faces = landmarker.faces(frame)
            assert faces, "FaceMesh lost the face on an output frame"
            lm = faces[0].landmarks
            width = np.linalg.norm(lm[291, :2] - lm[61, :2])
            openness.append(np.linalg.norm(lm[14, :2] - lm[13, :2]) / width)
    openness = np.array(openness)
    t = np.arange(len(openness)) / 25
    silence = (t < SPEECH_START_S - 0.1) | (t > SPEECH_END_S + 0.25)
    speech = (t > SPEECH_START_S + 0.1) & (t < SPEECH_END_S - 0.1)
    # Closed lips read as ~0 by FaceMesh; speech must open them well past that, often.
    assert np.max(openness[silence]) < 0.08, openness[silence]
    assert np.percentile(openness[speech], 75) > 0.15, openness[speech]
    assert np.median(openness[speech]) > 3 * np.median(openness[silence]) + 0.02


def test_progress_events_cover_every_frame(rendered):
    _, result, events = rendered
    progress = [e for e in events if type(e).__name__ == "StageProgress"]
    assert progress[-1].done == result.n_frames
    assert all(b.done > a.done for a, b in zip(progress, progress[1:]))


def _frame_hashes(path: Path) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in read_frames(path)]


def test_same_seed_same_frames_other_seed_differs(tmp_path, rendered, example_face, speech_with_pauses):
    first, _, _ = rendered
    again = tmp_path / "again.mp4"
    render(RenderJob(example_face, speech_with_pauses, again), _smoke())
    assert _frame_hashes(again) == _frame_hashes(first)
    other = tmp_path / "other.mp4"
    render(RenderJob(example_face, speech_with_pauses, other), _smoke(**{"motion.seed": 7}))
    assert _frame_hashes(other) != _frame_hashes(first)


def test_full_frame_output_is_photo_size(tmp_path, example_face, speech_with_pauses):
    out = tmp_path / "full.mp4"
    result = render(RenderJob(example_face, speech_with_pauses, out), _smoke(**{"render.crop_only": False}))
    info = probe(out)
    assert (info.video.width, info.video.height) == (512, 600) == (result.width, result.height)
    # Far from the face the photo is untouched: the top-left corner matches the photo.
    from talkcli.face.image import load_image

    photo = load_image(example_face).astype(np.int16)
    frame = next(read_frames(out)).astype(np.int16)
    assert np.abs(frame[:60, :60] - photo[:60, :60]).mean() < 4


def test_transcript_is_aligned(tmp_path, example_face, speech_with_pauses):
    text = tmp_path / "words.txt"
    text.write_text("And so, my fellow Americans!\n")
    out = tmp_path / "aligned.mp4"
    result = render(RenderJob(example_face, speech_with_pauses, out, transcript=text), _smoke())
    assert result.aligned
    assert probe(out).video.n_frames == result.n_frames
