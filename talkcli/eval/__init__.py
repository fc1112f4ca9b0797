"""``talk eval``: measure lip sync, A/V offset, fidelity and speed of a rendered video.

``evaluate(video, ref=None, real=None, truth=None, on_event=...) -> EvalReport``
re-detects the face with FaceMesh on every decoded frame (never reading the
renderer's internal targets) and measures:

1. the mouth track (inner-lip opening and mouth width per frame, normalised by
   the inter-ocular distance) and the face detection rate;
2. the A/V offset against the soundtrack's envelope, with a confidence figure
   and a pass/fail against EBU R37 (audio at most 40 ms early, 60 ms late);
3. how often the mouth is closed or at rest when nobody speaks;
4. with ``real``: our avatar rendered from the real video's first frame and
   soundtrack, compared with the real speaker's mouth (Pearson r, lag, LMD);
5. fidelity: background pixels that change between frames, PSNR of the face
   outside the mouth against the reference photo;
6. with ``truth`` (timed phonemes): the share of p/b/m closures where the lips
   are measured closed within +-1 frame, and the closures during speech that
   match none (spurious, per minute);
7. the speed the render recorded in its job directory.

The library never prints; progress goes to ``on_event``. ``talkcli.eval.report``
writes the JSON report, the Markdown summary and the plots.
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from talkcli.errors import InputError, NoFaceError, UsageError
from talkcli.events import (
    EventCallback,
    Notice,
    StageFinished,
    StageProgress,
    StageStarted,
    ignore_events,
)

if TYPE_CHECKING:
    from talkcli.config.settings import Settings
    from talkcli.eval.closure import ClosureResult, Truth
    from talkcli.eval.compare import Agreement
    from talkcli.eval.fidelity import BackgroundChange, FacePsnr
    from talkcli.eval.sync import OffsetEstimate, SpeechAudio
    from talkcli.eval.track import MouthTrack

__all__ = ["KEY_DOC", "EvalReport", "VideoAnalysis", "evaluate"]

SCHEMA = "talkcli.eval/1"
SILENCE_GUARD_S = 0.12  # frames this close to speech are neither speech nor silence (lips move ahead of and after sound)
REST_TOLERANCE = 0.04  # a silent mouth within this (inter-ocular distances) of the reference photo's opening is at rest
PSNR_FRAMES = 250  # face PSNR is taken on every k-th frame, k chosen so that at most this many are compared (ECC costs ~10 ms each)
FEW_FACES = 0.9  # below this detection rate, warn: figures rest on part of the video

# What every figure in the JSON report means, with its unit. Keys are "section.key".
KEY_DOC: dict[str, str] = {
    "schema": "version of this report's layout",
    "eval_seconds": "wall time of the measurement, seconds",
    "closure": "p/b/m closure check against the phoneme truth; null without --truth",
    "real": "agreement with the real speaker; null without --real",
    "inputs.video": "the evaluated video (with --real and no VIDEO: our avatar, rendered for the comparison)",
    "inputs.ref": "the reference photo (--ref)",
    "inputs.real": "the real talking video (--real)",
    "inputs.truth": "the phoneme truth file (--truth)",
    "inputs.avatar_rendered_from_real": "true when the video is our avatar rendered from the real video's first frame and soundtrack",
    "video.width": "frame width, pixels",
    "video.height": "frame height, pixels",
    "video.fps": "frame rate of the evaluated video (frames per second)",
    "video.n_frames": "decoded video frames",
    "video.duration_s": "seconds of video",
    "video.audio_start_s": "when the first audio sample plays, seconds after the first video frame (container timing)",
    "mouth.face_detection_rate": "share of frames where FaceMesh found a face (0..1)",
    "mouth.frames_without_face": "number of frames where FaceMesh found no face",
    "mouth.first_frames_without_face": "indices of the first (up to 20) frames without a face",
    "mouth.mouth_open_median_iod": "median inner-lip opening over frames with a face, in inter-ocular distances (closed lips read about 0)",
    "mouth.mouth_open_p95_iod": "95th percentile of the inner-lip opening (inter-ocular distances)",
    "mouth.mouth_open_speech_median_iod": "median inner-lip opening on speech frames (inter-ocular distances)",
    "mouth.mouth_width_median_iod": "median distance between the mouth corners (inter-ocular distances)",
    "sync.av_offset_ms": "A/V offset in ms: the lag that best aligns the frame-to-frame changes of the mouth opening with those of the speech envelope. > 0: the audio is late relative to the video (the mouth moves before its sound); < 0: the audio is early. null when the mouth does not move",
    "sync.av_offset_confidence": "peak correlation minus the median correlation over all searched lags (SyncNet-style); near 0: no evidence of sync, above about 0.3: a clear peak",
    "sync.av_offset_peak_r": "Pearson correlation between the changes of mouth opening and of the speech envelope at the best lag",
    "sync.av_offset_at_search_edge": "true when the best lag is at the edge of the searched range: the true offset may be larger",
    "sync.search_range_ms": "lags searched, ms",
    "sync.ebu_r37_allowed_ms": "EBU R37 tolerance for av_offset_ms: audio at most 40 ms early (-40) and 60 ms late (+60)",
    "sync.ebu_r37_pass": "av_offset_ms within the EBU R37 tolerance (null when there is no estimate or its peak is at the search edge)",
    "silence.speech_source": "what decided which frames are speech: 'audio' (level, smoothed over 50 ms, at least 45% of the way from the noise floor to the speech level) or 'truth' (non-silence phonemes of the truth file)",
    "silence.silence_guard_ms": "frames within this of speech count as neither speech nor silence",
    "silence.silent_frames": "frames with a face and no speech within the guard",
    "silence.silence_closed_fraction": "share of silent frames whose lips are closed (opening <= closed_opening_iod); null without silent frames",
    "silence.silence_closed_or_rest_fraction": "share of silent frames whose lips are closed (opening <= closed_opening_iod) or at rest (within rest_tolerance_iod of the reference photo's opening); null without silent frames",
    "silence.closed_opening_iod": "inner-lip opening at or below which lips count as closed (inter-ocular distances)",
    "silence.mouth_rest_opening_iod": "inner-lip opening of the reference photo as the video's tracker reads it held still (median of 8 tracked copies; null without a reference)",
    "silence.rest_tolerance_iod": "how far from the rest opening a silent mouth may be (inter-ocular distances)",
    "silence.silence_mouth_open_p95_iod": "95th percentile of the inner-lip opening on silent frames",
    "fidelity.background_changed_fraction": "share of background pixels (outside the head-and-neck mask) whose grey level changes by more than 2 between consecutive frames, all frame pairs pooled",
    "fidelity.background_changed_fraction_max": "the largest such share in one frame pair",
    "fidelity.background_pairs_skipped": "consecutive frame pairs left out because a frame had no face",
    "fidelity.face_psnr_db": "PSNR (dB, 8-bit RGB) of the face outside the mouth-and-jaw region against the reference photo aligned to each frame, all frames pooled; null without a reference",
    "fidelity.face_psnr_db_min": "lowest per-frame face PSNR (dB)",
    "fidelity.frames_failed_detection": "frames where FaceMesh found no face (same as mouth.frames_without_face)",
    "closure.closure_events": "p/b/m closures in the phoneme truth (adjacent bilabials merged)",
    "closure.closures_met": "closures with lips measured closed within +-1 frame",
    "closure.closure_met_fraction": "closures_met / closures with a detected face (0..1)",
    "closure.closures_without_face": "closures whose frames had no face; left out of closure_met_fraction",
    "closure.tolerance_frames": "a closure counts as met when the lips are closed within this many frames of it",
    "closure.closure_timing_median_ms": "median of (measured closed run centre - truth closure centre), ms; > 0: the lips close late",
    "closure.spurious_closures": "runs of closed frames (opening <= closed_opening_iod) wholly inside speech (truth phoneme at each frame centre not silence; a run reaching a pause or either end of the video is the mouth at rest) that overlap no closure widened by tolerance_frames: the benchmark scorer's spurious closures, measured on the picture",
    "closure.spurious_closures_per_min": "spurious_closures per minute of frames with a face",
    "real.mouth_r": "Pearson r between our and the real speaker's inner-lip opening, frame by frame (0 when either mouth does not move)",
    "real.mouth_lag_ms": "lag maximising that correlation, ms; > 0: our mouth moves later than the real one",
    "real.mouth_r_at_lag": "Pearson r at that lag",
    "real.lmd_iod": "mouth landmark distance: mean distance of the 40 lip landmarks after aligning our face onto the real one (similarity on stable landmarks), in inter-ocular distances",
    "real.lmd_still_baseline_iod": "the same distance for the real speaker's first frame held still: LMD below this means the lips move the right way",
    "real.frames_compared": "frames where both faces were found",
    "real.real_av_offset_ms": "the real video's own A/V offset by the same method (its natural bias; same sign convention)",
    "real.real_av_offset_confidence": "confidence of real_av_offset_ms",
    "real.real_face_detection_rate": "share of the real video's frames where FaceMesh found a face",
    "real.real_mouth_open_speech_median_iod": "the real speaker's median inner-lip opening on speech frames (inter-ocular distances), to compare with mouth.mouth_open_speech_median_iod",
    "real.real_silence_closed_fraction": "the same closed-lips figure for the real speaker",
    "real.real_silence_closed_or_rest_fraction": "the same silence figure for the real speaker (rest: the real video's first frame)",
    "real.real_background_changed_fraction": "the same background figure for the real video (camera noise and body motion set its scale)",
    "real.real_face_psnr_db_vs_first_frame": "face PSNR of the real video against its own first frame: how much a real face changes outside the mouth",
    "real.real_closure_met_fraction": "closure_met_fraction of the real speaker (with --truth)",
    "speed.available": "false when the video carries no talk render record (then 'reason' says why)",
    "speed.reason": "why no speed figures are available",
    "speed.render_record": "the render.json the speed figures come from",
    "speed.device": "device the render ran on (cpu or cuda)",
    "speed.frames": "frames the render wrote",
    "speed.render_seconds": "wall time of the whole render, seconds",
    "speed.setup_seconds": "seconds spent on each setup step before the frame loop (face, audio, models)",
    "speed.end_to_end_fps": "frames per second of the whole render (model loading included), from the render's render.json",
    "speed.frame_loop_fps": "frames per second of the frame loop (phones to encoder)",
    "speed.realtime_factor": "seconds of audio rendered per second of wall time",
    "speed.time_to_first_frame_s": "seconds from the decoded audio to the first frame handed to ffmpeg",
    "speed.stage_ms_per_frame": "wall milliseconds per frame of each stage of the frame loop",
    "speed.peak_rss_mb": "peak resident memory of the render process, MB",
}


@dataclass
class VideoAnalysis:
    """Everything measured on one video (ours or the real one)."""

    path: Path
    fps: float
    track: MouthTrack
    audio: SpeechAudio
    audio_start_s: float
    envelope: np.ndarray  # (N,) RMS of band-passed speech per frame interval
    speech: np.ndarray  # (N,) bool
    silent: np.ndarray  # (N,) bool: face found and no speech within the guard
    offset: OffsetEstimate
    background: BackgroundChange
    psnr: FacePsnr | None
    rest_opening: float | None
    closure: ClosureResult | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class EvalReport:
    """The figures (``figures``, JSON-ready, keys explained in ``KEY_DOC``) and what the plots need."""

    figures: dict[str, Any]
    ours: VideoAnalysis
    real: VideoAnalysis | None = None
    agreement: Agreement | None = None
    truth: Truth | None = None
    stills: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)  # row name -> {frame index: RGB}
    avatar: Path | None = None  # the avatar rendered for --real (None once its temp folder is gone)
    seconds: float = 0.0

    def to_dict(self, with_tracks: bool = True) -> dict[str, Any]:
        """The JSON report: figures, what each key means, and (optionally) the per-frame tracks."""
        out = dict(self.figures)
        out["key_doc"] = KEY_DOC
        if with_tracks:
            out["tracks"] = _tracks(self)
        return out

    def to_json(self, with_tracks: bool = True) -> str:
        return json.dumps(self.to_dict(with_tracks), indent=2, sort_keys=True, default=str, allow_nan=False)


def _round(x: float | None, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if np.isfinite(x) else None


def _rounded_list(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(values, dtype=np.float64)]


def _tracks(report: EvalReport) -> dict[str, Any]:
    a = report.ours
    peak = float(np.max(a.envelope)) if len(a.envelope) and np.max(a.envelope) > 0 else 1.0
    tracks: dict[str, Any] = {
        "doc": "per-frame values of the evaluated video; frame i plays over [i/fps, (i+1)/fps); null: no face",
        "fps": a.fps,
        "mouth_open_iod": _rounded_list(a.track.opening),
        "mouth_width_iod": _rounded_list(a.track.mouth_width),
        "speech_envelope": _rounded_list(a.envelope / peak),
        "speech": [bool(v) for v in a.speech],
    }
    if report.real is not None:
        from talkcli.eval.compare import resample_track
        from talkcli.eval.track import MouthTrack as _Track

        lm = resample_track(report.real.track, a.track.times(), _real_shift(report.ours, report.real))
        tracks["real_mouth_open_iod"] = _rounded_list(_Track(a.fps, 0, 0, lm).opening)
    return tracks


def _real_shift(ours: VideoAnalysis, real: VideoAnalysis) -> float:
    """Where the real video's first frame sits on our timeline, both anchored to the same soundtrack."""
    return ours.audio_start_s - real.audio_start_s


# -- measuring one video ------------------------------------------------------


def _reference(image: np.ndarray, source: str) -> np.ndarray:
    """Landmarks ``(478, 2)`` of the largest face in a reference image."""
    from talkcli.face.detect import FaceLandmarker, choose_face

    with FaceLandmarker() as landmarker:
        faces = landmarker.faces(image)
    return choose_face(faces, None, source).landmarks[:, :2]


@contextmanager
def _undecodable_is_input_error(path: Path):
    """ffmpeg failing to decode the file under measurement is the input's fault (exit 4), not an encode failure (7)."""
    from talkcli.errors import FfmpegError

    try:
        yield
    except FfmpegError as exc:
        detail = exc.message.split(" failed: ", 1)[-1]
        raise InputError(
            f"cannot decode {path}: {detail}",
            hint="talk eval measures a video file (MP4, MOV, MPG, ...); check that it plays",
        ) from exc


def analyse_video(
    path: Path,
    *,
    ref_image: np.ndarray | None = None,
    ref_landmarks: np.ndarray | None = None,
    truth: Truth | None = None,
    stage: str = "mouth track",
    on_event: EventCallback = ignore_events,
    ffmpeg: str | None = None,
) -> VideoAnalysis:
    """Track the mouth on every frame of ``path`` and measure sync, silence, fidelity (and closures with ``truth``)."""
    from talkcli.audio.decode import decode_audio
    from talkcli.eval.closure import closure_check
    from talkcli.eval.fidelity import BackgroundChange, FacePsnr
    from talkcli.eval.sync import SpeechAudio, estimate_offset
    from talkcli.eval.track import opening_of, still_opening, track_video
    from talkcli.mux.ffmpeg import probe, read_media_meta

    path = Path(path)
    with _undecodable_is_input_error(path):
        info = probe(path, ffmpeg)
    if info.video is None or info.video.n_frames == 0:
        raise InputError(f"{path} has no video frames", hint="talk eval measures a video file (MP4, MOV, MPG, ...)")
    if info.audio is None:
        raise InputError(
            f"{path} has no audio stream", hint="talk eval measures lip sync against the video's own soundtrack"
        )
    meta = read_media_meta(path, ffmpeg)
    fps = float(info.video.fps)
    n = info.video.n_frames
    decoded = decode_audio(path, ffmpeg)
    audio_start = (meta.audio_start_s or 0.0) - (meta.video_start_s or 0.0)
    audio = SpeechAudio(decoded.samples, decoded.sample_rate, audio_start)

    background = BackgroundChange()
    every = max(1, -(-n // PSNR_FRAMES))
    psnr = FacePsnr(ref_image, ref_landmarks, every) if ref_image is not None and ref_landmarks is not None else None
    observers = [background] + ([psnr] if psnr is not None else [])
    on_event(StageStarted(stage, total=n, unit="frames"))
    t0 = time.perf_counter()
    track = track_video(path, fps, observers, lambda done: on_event(StageProgress(stage, done, n)), ffmpeg)
    on_event(StageFinished(stage, time.perf_counter() - t0))
    if not track.detected.any():
        raise NoFaceError(f"FaceMesh found no face in any frame of {path}", hint="talk eval needs a visible, roughly frontal face")
    n = track.n_frames

    opening = track.opening
    offset = estimate_offset(opening, track.detected, audio, fps)
    envelope = audio.envelope(n, fps)
    if truth is not None:
        speech = truth.speech_frames(n, fps, audio_start)
    else:
        speech = audio.speech_frames(n, fps)
    guard = max(0, int(round(SILENCE_GUARD_S * fps)))
    near_speech = np.convolve(speech.astype(int), np.ones(2 * guard + 1, dtype=int), mode="same") > 0
    silent = ~near_speech & track.detected
    rest = None
    if ref_landmarks is not None:
        # Measured with the video's own tracker (still_opening); the detector's landmarks if
        # the tracker finds no face in the photo.
        rest = still_opening(ref_image) if ref_image is not None else None
        rest = opening_of(ref_landmarks) if rest is None else rest
    closure = closure_check(truth, opening, fps, audio_start) if truth is not None else None
    return VideoAnalysis(
        path=path, fps=fps, track=track, audio=audio, audio_start_s=audio_start, envelope=envelope,
        speech=speech, silent=silent, offset=offset, background=background, psnr=psnr,
        rest_opening=rest, closure=closure, tags=meta.tags,
    )  # fmt: skip


# -- figures -------------------------------------------------------------------


def _silence_ok(a: VideoAnalysis) -> np.ndarray:
    from talkcli.eval.closure import CLOSED_OPENING

    op = a.track.opening
    ok = op <= CLOSED_OPENING
    if a.rest_opening is not None:
        ok |= np.abs(op - a.rest_opening) <= REST_TOLERANCE
    return ok


def _video_figures(a: VideoAnalysis, truth_used: bool) -> dict[str, Any]:
    from talkcli.eval.closure import CLOSED_OPENING
    from talkcli.eval.sync import (
        EBU_R37_AUDIO_EARLY_MS,
        EBU_R37_AUDIO_LATE_MS,
        MAX_LAG_S,
    )

    t = a.track
    det = t.detected
    op = t.opening
    missing = np.flatnonzero(~det)
    op_det = op[det]
    speech_det = det & a.speech
    silent = a.silent
    bg = a.background
    fig: dict[str, Any] = {
        "video": {
            "fps": _round(a.fps, 4),
            "n_frames": t.n_frames,
            "width": t.width,
            "height": t.height,
            "duration_s": _round(t.n_frames / a.fps, 3),
            "audio_start_s": _round(a.audio_start_s, 4),
        },
        "mouth": {
            "face_detection_rate": _round(det.mean(), 4),
            "frames_without_face": int(len(missing)),
            "first_frames_without_face": missing[:20].tolist(),
            "mouth_open_median_iod": _round(np.median(op_det)),
            "mouth_open_p95_iod": _round(np.percentile(op_det, 95)),
            "mouth_open_speech_median_iod": _round(np.median(op[speech_det])) if speech_det.any() else None,
            "mouth_width_median_iod": _round(np.median(t.mouth_width[det])),
        },
        "sync": {
            "av_offset_ms": _round(a.offset.offset_ms, 1),
            "av_offset_confidence": _round(a.offset.confidence, 3),
            "av_offset_peak_r": _round(a.offset.peak_r, 3),
            "av_offset_at_search_edge": bool(a.offset.at_search_edge),
            "search_range_ms": [-MAX_LAG_S * 1000, MAX_LAG_S * 1000],
            "ebu_r37_allowed_ms": [-EBU_R37_AUDIO_EARLY_MS, EBU_R37_AUDIO_LATE_MS],
            "ebu_r37_pass": a.offset.within_ebu_r37,
        },
        "silence": {
            "speech_source": "truth" if truth_used else "audio",
            "silence_guard_ms": SILENCE_GUARD_S * 1000,
            "silent_frames": int(silent.sum()),
            "silence_closed_fraction": _round((op[silent] <= CLOSED_OPENING).mean()) if silent.any() else None,
            "silence_closed_or_rest_fraction": _round(_silence_ok(a)[silent].mean()) if silent.any() else None,
            "closed_opening_iod": CLOSED_OPENING,
            "mouth_rest_opening_iod": _round(a.rest_opening),
            "rest_tolerance_iod": REST_TOLERANCE,
            "silence_mouth_open_p95_iod": _round(np.percentile(op[silent], 95)) if silent.any() else None,
        },
        "fidelity": {
            "background_changed_fraction": _round(bg.fraction, 5),
            "background_changed_fraction_max": _round(max(bg.pair_fractions), 5) if bg.pair_fractions else None,
            "background_pairs_skipped": bg.skipped_pairs,
            "face_psnr_db": _round(a.psnr.psnr_db, 2) if a.psnr is not None else None,
            "face_psnr_db_min": _round(min(a.psnr.frame_psnr.values()), 2) if a.psnr is not None and a.psnr.frame_psnr else None,
            "frames_failed_detection": int(len(missing)),
        },
    }
    if a.closure is not None:
        c = a.closure
        fig["closure"] = {
            "closure_events": c.events,
            "closures_met": c.closed,
            "closures_without_face": c.undetected,
            "closure_met_fraction": _round(c.fraction),
            "closure_timing_median_ms": _round(float(np.median(c.timing_ms)), 1) if c.timing_ms else None,
            "spurious_closures": c.spurious,
            "spurious_closures_per_min": _round(c.spurious_per_min, 2),
            "tolerance_frames": 1,
        }
    else:
        fig["closure"] = None
    return fig


def speed_figures(tags: dict[str, str]) -> dict[str, Any]:
    """Speed of the render that wrote the video, read from ``<job dir>/render.json`` (found by the MP4's comment tag)."""
    from talkcli.jobs.paths import COMMENT_PREFIX, RENDER_RECORD

    comment = tags.get("comment", "")
    if not comment.startswith(COMMENT_PREFIX):
        return {"available": False, "reason": "no 'talkcli job=' comment tag: not rendered by talk, or re-muxed without metadata"}
    record = Path(comment[len(COMMENT_PREFIX) :].strip()) / RENDER_RECORD
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"available": False, "reason": f"the render's record {record} no longer exists"}
    except (OSError, ValueError) as exc:
        return {"available": False, "reason": f"cannot read {record}: {exc}"}
    n = data.get("n_frames") or 0
    seconds = data.get("seconds") or 0.0
    stages = {k: _round(v, 3) for k, v in (data.get("stage_ms_per_frame") or {}).items()}
    loop_ms = sum(v for v in (data.get("stage_ms_per_frame") or {}).values())
    audio_s = data.get("audio_duration_s") or 0.0
    return {
        "available": True,
        "render_record": str(record),
        "device": data.get("device"),
        "frames": n,
        "render_seconds": _round(seconds, 3),
        "end_to_end_fps": _round(n / seconds, 1) if seconds else None,
        "frame_loop_fps": _round(1000.0 / loop_ms, 1) if loop_ms else None,
        "realtime_factor": _round(audio_s / seconds, 2) if seconds else None,
        "time_to_first_frame_s": _round(data.get("time_to_first_frame_s"), 3),
        "stage_ms_per_frame": stages,
        "setup_seconds": {k: _round(v, 3) for k, v in (data.get("setup_seconds") or {}).items()},
        "peak_rss_mb": _round(data.get("peak_rss_mb"), 1),
    }


# -- the entry point -------------------------------------------------------------


def _fps_text(fps: float) -> str:
    frac = Fraction(fps).limit_denominator(1001)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def _pick_stills(opening: np.ndarray, candidates: np.ndarray, k: int, largest: bool, spacing: int) -> list[int]:
    idx = np.flatnonzero(candidates & np.isfinite(opening))
    order = idx[np.argsort(opening[idx])]
    if largest:
        order = order[::-1]
    chosen: list[int] = []
    for i in order:
        if all(abs(int(i) - c) >= spacing for c in chosen):
            chosen.append(int(i))
        if len(chosen) == k:
            break
    return sorted(chosen)


def evaluate(
    video: Path | None = None,
    ref: Path | None = None,
    real: Path | None = None,
    truth: Path | None = None,
    *,
    settings: Settings | None = None,
    work_dir: Path | None = None,
    stills: int = 4,
    on_event: EventCallback = ignore_events,
    ffmpeg: str | None = None,
) -> EvalReport:
    """Measure ``video`` (a talking-head MP4 with its soundtrack).

    ``ref``: the reference photo the video was rendered from (enables face
    PSNR and the rest opening; with ``real``, the real video's first frame by
    default). ``real``: a real talking video with its audio;
    without ``video``, our avatar is first rendered from its first frame and
    soundtrack with ``settings`` (frame rate set to the real video's) into
    ``work_dir`` (a temporary folder when None, removed before returning).
    ``truth``: timed phonemes of the soundtrack (``talkcli.eval.closure``).
    ``stills``: frames per contact-sheet row.
    """
    started = time.perf_counter()
    if video is None and real is None:
        raise UsageError("nothing to evaluate", hint="pass a VIDEO, or --real VIDEO to render and compare an avatar")
    for label, p in (("video", video), ("reference photo", ref), ("real video", real), ("truth file", truth)):
        if p is not None and not Path(p).is_file():
            raise InputError(f"{label} not found: {p}", hint="check the path")
    from talkcli.eval.closure import load_truth

    truth_data = load_truth(Path(truth)) if truth is not None else None

    with tempfile.TemporaryDirectory(prefix="talk-eval-") as tmp:
        scratch = Path(work_dir) if work_dir is not None else Path(tmp)
        ref_image = ref_lm = real_first = None
        if ref is not None:
            from talkcli.face.image import load_image

            ref_image = load_image(ref)
            ref_lm = _reference(ref_image, str(ref))
        avatar = real_lm = None
        if real is not None:
            from talkcli.eval.track import grab_frames

            real = Path(real)
            with _undecodable_is_input_error(real):
                real_first = grab_frames(real, [0], ffmpeg).get(0)
            if real_first is None:
                raise InputError(f"{real} has no video frames", hint="--real takes a talking video with its audio")
            real_lm = _reference(real_first, f"the first frame of {real}")
            if video is None:
                video = avatar = _render_avatar(real, real_first, scratch, settings, on_event, ffmpeg)
            if ref is None:  # our avatar of a real video is rendered from its first frame
                ref_image, ref_lm = real_first, real_lm
        ours = analyse_video(
            Path(video), ref_image=ref_image, ref_landmarks=ref_lm, truth=truth_data,
            stage="mouth track", on_event=on_event, ffmpeg=ffmpeg,
        )  # fmt: skip
        _warn(ours, on_event, "")
        real_a = agreement = None
        if real is not None:
            real_a = analyse_video(
                real, ref_image=real_first, ref_landmarks=real_lm, truth=truth_data,
                stage="real mouth track", on_event=on_event, ffmpeg=ffmpeg,
            )  # fmt: skip
            _warn(real_a, on_event, "real video: ")
            from talkcli.eval.compare import compare_tracks

            agreement = compare_tracks(ours.track, real_a.track, _real_shift(ours, real_a))

        # Contact sheet: the most open frames, and the most closed while speaking.
        on_event(StageStarted("stills"))
        t0 = time.perf_counter()
        op = ours.track.opening
        speaking = ours.speech & ours.track.detected
        spacing = max(1, int(round(0.2 * ours.fps)))
        rows = {
            "most open": _pick_stills(op, ours.track.detected, stills, True, spacing),
            "most closed in speech": _pick_stills(op, speaking if speaking.any() else ours.track.detected, stills, False, spacing),
        }
        from talkcli.eval.track import grab_frames

        wanted = sorted({i for v in rows.values() for i in v})
        got = grab_frames(Path(video), wanted, ffmpeg)
        still_rows = {name: {i: got[i] for i in idx if i in got} for name, idx in rows.items()}
        if real_a is not None:
            shift = _real_shift(ours, real_a)
            real_idx = {i: int(np.floor((i / ours.fps - shift) * real_a.fps + 1e-6)) for i in wanted}
            real_got = grab_frames(real, [j for j in real_idx.values() if j >= 0], ffmpeg)
            for name, idx in rows.items():
                still_rows[f"real, as '{name}'"] = {i: real_got[real_idx[i]] for i in idx if real_idx[i] in real_got}
        on_event(StageFinished("stills", time.perf_counter() - t0))

        figures = _figures(ours, real_a, agreement, truth_data, video, ref, real, truth, avatar is not None)
        report = EvalReport(
            figures=figures, ours=ours, real=real_a, agreement=agreement, truth=truth_data,
            stills=still_rows, avatar=avatar if work_dir is not None else None,
            seconds=time.perf_counter() - started,
        )  # fmt: skip
    figures["eval_seconds"] = _round(report.seconds, 2)
    return report


def _render_avatar(
    real: Path, first: np.ndarray, scratch: Path, settings: Settings | None, on_event: EventCallback, ffmpeg: str | None
) -> Path:
    """Render our avatar from the real video's first frame and soundtrack; returns the MP4's path."""
    from PIL import Image

    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings
    from talkcli.mux.ffmpeg import probe

    scratch.mkdir(parents=True, exist_ok=True)
    photo = scratch / "first_frame.png"
    Image.fromarray(first).save(photo)
    info = probe(real, ffmpeg)
    fps = _fps_text(info.video.fps) if info.video and info.video.fps else "25"
    base = settings or load_settings(None, {"mux.ffmpeg": ffmpeg})
    base = replace(base, audio=replace(base.audio, fps=fps))
    out = scratch / "avatar.mp4"
    on_event(Notice("info", f"rendering our avatar from the first frame of {real.name} at {fps} fps"))
    render(RenderJob(ref=photo, audio=real, out=out, overwrite=True), base, on_event)
    return out


def _warn(a: VideoAnalysis, on_event: EventCallback, prefix: str) -> None:
    rate = float(a.track.detected.mean())
    if rate < FEW_FACES:
        on_event(Notice("warning", f"{prefix}FaceMesh found the face on only {rate:.0%} of the frames; figures rest on those"))
    if a.offset.offset_ms is None:
        on_event(Notice("warning", f"{prefix}the mouth does not move: no A/V offset can be measured"))
    elif a.offset.at_search_edge:
        on_event(Notice("warning", f"{prefix}the best A/V lag is at the edge of the searched range; the true offset may be larger"))


def _figures(
    ours: VideoAnalysis,
    real_a: VideoAnalysis | None,
    agreement: Agreement | None,
    truth: Truth | None,
    video: Path,
    ref: Path | None,
    real: Path | None,
    truth_path: Path | None,
    rendered: bool,
) -> dict[str, Any]:
    fig: dict[str, Any] = {
        "schema": SCHEMA,
        "inputs": {
            "video": str(Path(video).resolve()),
            "ref": str(Path(ref).resolve()) if ref else None,
            "real": str(Path(real).resolve()) if real else None,
            "truth": str(Path(truth_path).resolve()) if truth_path else None,
            "avatar_rendered_from_real": rendered,
        },
    }
    fig.update(_video_figures(ours, truth is not None))
    if real_a is not None and agreement is not None:
        real_fig = _video_figures(real_a, truth is not None)
        fig["real"] = {
            "mouth_r": _round(agreement.mouth_r, 3),
            "mouth_lag_ms": _round(agreement.mouth_lag_ms, 1),
            "mouth_r_at_lag": _round(agreement.mouth_r_at_lag, 3),
            "lmd_iod": _round(agreement.lmd_iod),
            "lmd_still_baseline_iod": _round(agreement.lmd_still_baseline_iod),
            "frames_compared": agreement.frames_compared,
            "real_av_offset_ms": real_fig["sync"]["av_offset_ms"],
            "real_av_offset_confidence": real_fig["sync"]["av_offset_confidence"],
            "real_face_detection_rate": real_fig["mouth"]["face_detection_rate"],
            "real_mouth_open_speech_median_iod": real_fig["mouth"]["mouth_open_speech_median_iod"],
            "real_silence_closed_fraction": real_fig["silence"]["silence_closed_fraction"],
            "real_silence_closed_or_rest_fraction": real_fig["silence"]["silence_closed_or_rest_fraction"],
            "real_background_changed_fraction": real_fig["fidelity"]["background_changed_fraction"],
            "real_face_psnr_db_vs_first_frame": real_fig["fidelity"]["face_psnr_db"],
            "real_closure_met_fraction": (real_fig["closure"] or {}).get("closure_met_fraction"),
        }
    else:
        fig["real"] = None
    fig["speed"] = speed_figures(ours.tags)
    return fig
