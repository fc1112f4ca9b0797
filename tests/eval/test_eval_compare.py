"""Agreement with a real speaker: a video against itself, a frozen mouth, and the --real render."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smoke_settings, write_clip

from talkcli.eval.compare import compare_tracks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, talking_frames, eval_speech):
    """The first frame of the talking clip, repeated for the whole soundtrack: a mouth that never moves."""
    frames = np.repeat(talking_frames[:1], len(talking_frames), axis=0)
    return write_clip(tmp_path_factory.mktemp("frozen") / "frozen.mp4", frames, eval_speech)


def test_talking_video_against_itself(talking_analysis):
    agreement = compare_tracks(talking_analysis.track, talking_analysis.track)
    assert agreement.mouth_r == pytest.approx(1.0, abs=1e-9)
    assert agreement.mouth_lag_ms == pytest.approx(0.0, abs=1e-6)
    assert agreement.lmd_iod == pytest.approx(0.0, abs=1e-6)
    assert agreement.lmd_still_baseline_iod > 0.015  # the lips do move away from the first frame (about 0.03 on the smoke render)


def test_evaluate_with_itself_as_the_real_video(self_report):
    """The whole --real path without a render: same file on both sides reads r = 1, lag 0."""
    real = self_report.figures["real"]
    assert real["mouth_r"] == pytest.approx(1.0, abs=1e-3)
    assert real["mouth_lag_ms"] == pytest.approx(0.0, abs=1.0)
    assert real["lmd_iod"] == pytest.approx(0.0, abs=1e-4)
    assert real["frames_compared"] > 100


def test_frozen_mouth_scores_no_agreement(frozen, talking):
    from talkcli.eval import evaluate

    report = evaluate(frozen, real=talking, stills=1)
    fig = report.figures
    assert abs(fig["real"]["mouth_r"]) < 0.1
    assert fig["real"]["lmd_iod"] == pytest.approx(fig["real"]["lmd_still_baseline_iod"], rel=0.25)
    assert fig["sync"]["av_offset_ms"] is None and fig["sync"]["av_offset_confidence"] == 0.0
    assert fig["sync"]["ebu_r37_pass"] is None
    assert fig["fidelity"]["background_changed_fraction"] < 1e-3  # nothing moves at all


def test_real_renders_our_avatar_and_it_follows_the_speaker(tmp_path, talking):
    """--real with a talking video (our own render standing in for a real speaker): the avatar is
    rendered from its first frame and soundtrack, and its mouth follows the original's."""
    from talkcli.eval import evaluate

    events = []
    report = evaluate(real=talking, settings=smoke_settings(), work_dir=tmp_path, on_event=events.append, stills=1)
    fig = report.figures
    assert fig["inputs"]["avatar_rendered_from_real"] and (tmp_path / "avatar.mp4").is_file()
    assert fig["real"]["mouth_r"] > 0.6
    assert abs(fig["real"]["mouth_lag_ms"]) <= 40
    assert fig["real"]["lmd_iod"] < fig["real"]["lmd_still_baseline_iod"]
    assert fig["speed"]["available"] and fig["speed"]["end_to_end_fps"] > 0
    assert fig["fidelity"]["face_psnr_db"] is not None  # the first frame is the reference
    stages = {getattr(e, "stage", None) for e in events}
    assert {"render", "mouth track", "real mouth track"} <= stages


def test_silence_counts_closed_and_rest_mouths(tmp_path, frozen, talking_frames, talking_analysis, eval_speech):
    """A mouth frozen shut passes in every pause; one frozen wide open fails, unless the
    reference photo itself has it open (then it is "at rest")."""
    from PIL import Image

    from talkcli.eval import evaluate

    closed = evaluate(frozen, stills=1).figures["silence"]
    assert closed["silent_frames"] > 20 and closed["silence_closed_fraction"] == 1.0
    widest = int(np.nanargmax(talking_analysis.track.opening))
    open_clip = write_clip(tmp_path / "open.mp4", np.repeat(talking_frames[widest : widest + 1], len(talking_frames), axis=0), eval_speech)
    photo = tmp_path / "open.png"
    Image.fromarray(talking_frames[widest]).save(photo)
    gaping = evaluate(open_clip, ref=photo, stills=1).figures["silence"]
    assert gaping["silence_closed_fraction"] == 0.0
    assert gaping["silence_closed_or_rest_fraction"] == 1.0
    assert gaping["mouth_rest_opening_iod"] > 0.15
