"""The mouth track: FaceMesh in video mode reads what a still-image pass reads, on every frame."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LEAD_S, TAIL_S, write_clip

from talkcli.eval.sync import best_lag
from talkcli.eval.track import (
    LIP_POINTS,
    MouthTrack,
    apply_transform,
    opening_of,
    similarity_transform,
    track_frames,
)

pytestmark = pytest.mark.slow


def test_video_mode_matches_still_images_without_lag(talking_frames, talking_analysis):
    """Tracking must not smooth or delay the landmarks: same opening as a still-image pass, lag 0."""
    from talkcli.face.detect import FaceLandmarker

    video = talking_analysis.track.opening
    with FaceLandmarker() as lm:
        still = np.array([opening_of(lm.faces(f)[0].landmarks) for f in talking_frames[::2]])
    assert np.nanmax(np.abs(video[::2] - still)) < 0.06  # tracking jitter, in face-size units; the lag and correlation checks below are the point
    assert np.corrcoef(video[::2], still)[0, 1] > 0.97
    lag_ms, _ = best_lag(video[::2], still, np.ones(len(still), bool), 12.5)
    assert abs(lag_ms) < 20


def test_mouth_opens_in_speech_and_rests_in_silence(talking_analysis):
    a = talking_analysis
    t = a.track.times()
    assert a.track.detected.all()
    silence = (t < LEAD_S - 0.15) | (t > t[-1] - TAIL_S + 0.2)
    speech = (t > LEAD_S + 0.1) & (t < t[-1] - TAIL_S - 0.1)
    assert np.max(a.track.opening[silence]) < 0.04
    assert np.percentile(a.track.opening[speech], 80) > 0.12
    assert 0.4 < np.median(a.track.mouth_width) < 0.8
    # The audio-based speech mask agrees with how the clip was built.
    assert not a.speech[silence].any() and a.speech[speech].mean() > 0.8


def test_frames_without_a_face_are_counted(tmp_path, talking_frames, eval_speech):
    """Blank frames in the middle of a clip: the detection rate and the frame list are exact."""
    from talkcli.eval import evaluate

    frames = talking_frames[:50].copy()
    blank = [10, 11, 12, 30, 31, 32, 33, 34, 35, 36]
    frames[blank] = 128
    report = evaluate(write_clip(tmp_path / "gaps.mp4", frames, eval_speech), stills=1)
    mouth = report.figures["mouth"]
    assert mouth["face_detection_rate"] == pytest.approx(40 / 50)
    assert mouth["first_frames_without_face"] == blank
    assert report.figures["fidelity"]["frames_failed_detection"] == 10
    assert report.figures["fidelity"]["background_pairs_skipped"] == 4 + 8  # pairs touching a blank frame


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(0)
    src = rng.random((20, 2)) * 100
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -12.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    assert np.allclose(apply_transform(m, src), dst, atol=1e-9)


def test_track_of_no_frames_is_empty():
    track = track_frames([], 25.0)
    assert isinstance(track, MouthTrack) and track.n_frames == 0
    assert len(LIP_POINTS) == 40
