"""The job runner: one render as a resumable job.

The video is cut into segments (about 10 s each); each segment's frames
stream into its own H.264 file as the pipeline produces them
(``talkcli.pipeline``), and the manifest records each finished segment with
the motion state at its end. A rerun of the same command (or ``talk
resume``) skips finished segments and continues from the recorded state, so
an interrupted job ends with exactly the frames an uninterrupted one would
have produced. The final file is the segments joined by stream copy, with the
original audio as AAC: the only write to the user's path.

The runner owns the job: its identity (inputs, settings, versions, plan),
the lock, the segment plan, resume, the join, delivery and clean-up.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from talkcli import __version__
from talkcli.audio.plan import BlockPlan
from talkcli.config.settings import Settings
from talkcli.errors import AudioError, InputError, UsageError
from talkcli.events import EventCallback, Notice, StageFinished, StageProgress, StageStarted
from talkcli.files import sha256_file, write_json_atomic
from talkcli.job import Models, RenderJob, RenderResult
from talkcli.jobs.manifest import JobError, JobIdentity, JobLock, Manifest, Segment
from talkcli.jobs.paths import COMMENT_PREFIX, RENDER_RECORD, default_job_dir, input_hashes, input_paths
from talkcli.jobs.safety import (
    OutputState, check_job_dir, check_output_kind, check_output_name, delivering, discard_job, spool_special_inputs,
)
from talkcli.pipeline import FrameChain, Prepared
from talkcli.timing import Clock

MAX_EXTRA_REFS = 2


@dataclass(frozen=True)
class Checked:
    """A job whose inputs exist, with what was read of them before any work."""

    job: RenderJob
    transcript: str | None
    hashes: dict[str, str]
    job_dir: Path
    weights: tuple | None
    device: str
    output_at_start: OutputState

    @property
    def to_stdout(self) -> bool:
        return str(self.job.out) == "-"


def check_job(job: RenderJob, settings: Settings) -> Checked:
    """Everything that can fail before any work: inputs present, output and job folder
    writable and of the right kind, model files, the compute device."""
    from talkcli.audio.speech import read_transcript
    from talkcli.engines import check_transcript
    from talkcli.mux.writer import check_output_path
    from talkcli.pipeline import enhancer_weights
    from talkcli.render.device import resolve_device

    ref, audio, out = Path(job.ref), Path(job.audio), Path(job.out)
    to_stdout = str(job.out) == "-"
    if job.ray_address is not None:
        from talkcli.jobs.ray_cluster import check_address, import_ray
        from talkcli.jobs.ray_render import check_ray_job

        check_address(job.ray_address)
        check_ray_job(job, settings)
        import_ray()
    transcript = read_transcript(job.transcript)
    check_transcript(settings, transcript)
    if len(job.extra_refs) > MAX_EXTRA_REFS:
        raise UsageError(f"--ref given {1 + len(job.extra_refs)} times; at most 3 photos", hint="the first is animated, two more may help")
    for photo in (ref, *job.extra_refs):
        if not Path(photo).is_file():
            raise InputError(f"reference photo not found: {photo}", hint="check the --ref path")
    if not audio.is_file():
        raise AudioError(f"audio file not found: {audio}", hint="check the --audio path")
    inputs = list(input_paths(ref, audio, job.transcript, job.extra_refs).values())
    if to_stdout:
        from talkcli.mux.concat import check_stdout_output

        check_stdout_output()  # a closed standard output fails now, not after the render
    else:
        check_output_name(out)
        check_output_kind(out)
        check_output_path(out, inputs, job.overwrite)
    weights = enhancer_weights(settings)
    device = resolve_device(settings.render.device)
    hashes = input_hashes(ref, audio, job.transcript, job.extra_refs)
    job_dir = Path(job.job_dir) if job.job_dir else default_job_dir(out, hashes)
    check_job_dir(job_dir, [*inputs, out])
    return Checked(job, transcript, hashes, job_dir, weights, device, OutputState.of(out))


def _spooled(job: RenderJob, scratch: Path) -> RenderJob:
    """The job with inputs that are pipes or other special files copied into ``scratch``."""
    import dataclasses

    roles = {"ref": job.ref, "audio": job.audio} | ({"transcript": job.transcript} if job.transcript else {})
    roles |= {f"ref{i}": p for i, p in enumerate(job.extra_refs, start=2)}
    got = spool_special_inputs({k: Path(v) for k, v in roles.items()}, scratch)
    return dataclasses.replace(job, ref=got["ref"], audio=got["audio"], transcript=got.get("transcript"),
                               extra_refs=tuple(got[f"ref{i}"] for i in range(2, 2 + len(job.extra_refs))))  # fmt: skip


def run_job(job: RenderJob, settings: Settings, on_event: EventCallback, models: Models | None = None) -> RenderResult:
    """Render ``job`` as a resumable job; see the module's docstring."""
    from talkcli.pipeline import build_chain, prepare

    models = models or Models()
    started = time.perf_counter()
    clock = Clock()
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="talk-")))
        job = _spooled(job, scratch)
        checked = check_job(job, settings)
        if job.fresh:
            discard_job(checked.job_dir)
        prepared = prepare(job, settings, models, scratch, on_event)
        audio_ready = time.perf_counter()
        # The job directory appears only now, once the inputs have proved usable.
        stack.enter_context(JobLock(checked.job_dir))
        for stale in checked.job_dir.glob(".*.part.*"):  # left by a killed run; we hold the lock, so no one writes them
            stale.unlink(missing_ok=True)
        device = checked.device
        threads = settings.mux.x264_threads or max(1, (os.cpu_count() or 2) - 1)  # all cores but the renderer's
        manifest = open_manifest(checked, settings, prepared.speech.plan, device, threads)
        resume_at = manifest.first_pending()
        if resume_at > 0:
            on_event(Notice("info", f"resuming job {checked.job_dir}: {resume_at} of {len(manifest.segments)} segments already rendered"))
        remaining = prepared.speech.plan.n_frames - manifest.first_frame_of(resume_at)
        t = time.perf_counter()
        enhance = _enhance_stage(settings, checked, prepared, device, remaining, clock, on_event)
        enhance_s, t = time.perf_counter() - t, time.perf_counter()
        chain, driver = build_chain(prepared, settings, models, device, manifest.state_before(resume_at), checked.transcript,
                                    enhance, clock, on_event)  # fmt: skip
        setup = prepared.setup_seconds | {"models": time.perf_counter() - t} | ({"enhance": enhance_s} if enhance else {})
        if job.ray_address is not None:
            from talkcli.jobs.ray_render import render_segments_ray

            first_frame_time = render_segments_ray(job.ray_address, job, settings, checked.transcript, device, threads,
                                                   chain.motion, manifest, checked.job_dir, on_event)  # fmt: skip
        else:
            first_frame_time = render_segments(chain, manifest, checked.job_dir, settings, threads, on_event)
        on_event(StageFinished("render", time.perf_counter() - audio_ready))
        if enhance is not None:
            on_event(StageFinished("enhance", clock.totals.get("enhance", 0.0)))
        deliver(checked, manifest, settings, clock, on_event)
    note = driver.unaligned_note()
    if note:
        on_event(Notice("warning", note))
    timing = {"setup": setup, "started": started, "audio_ready": audio_ready, "first_frame": first_frame_time}
    return finish(checked, manifest, prepared, chain.output_shape, device, clock, timing, driver.aligned, resume_at)


def _enhance_stage(settings, checked: Checked, prepared: Prepared, device: str, remaining: int, clock: Clock, on_event):
    if checked.weights is None:
        return None
    from talkcli.pipeline import make_enhance

    return make_enhance(settings, checked.weights, prepared.face, device, remaining, clock, on_event)


def _source_digest() -> str:
    """sha256 over talk's own code and presets: a resumed job must be finished by the same code."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.parent.joinpath("presets").glob("*.toml")]):
        h.update(str(path.relative_to(root.parent)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _versions(ffmpeg: str | None) -> dict[str, str]:
    from importlib.metadata import version

    from talkcli.mux.ffmpeg import ffmpeg_version

    out = {"talkcli": __version__, "talkcli_source": _source_digest(), "ffmpeg": ffmpeg_version(ffmpeg)}
    for dist in ("mediapipe", "pocketsphinx", "numpy", "opencv-python-headless"):
        try:
            out[dist] = version(dist)
        except Exception:
            out[dist] = "unknown"
    return out


def job_identity(checked: Checked, settings: Settings, plan: BlockPlan, device: str, threads: int) -> JobIdentity:
    """The identity of this render: a job resumes only when it is unchanged."""
    inputs = input_paths(checked.job.ref, checked.job.audio, checked.job.transcript, checked.job.extra_refs)
    resolved = {"render.device_resolved": {"value": device, "source": "resolved"},
                "mux.x264_threads_resolved": {"value": threads, "source": "resolved"}}  # fmt: skip
    return JobIdentity(
        inputs={name: {"path": str(p.resolve()), "sha256": checked.hashes[name]} for name, p in inputs.items()},
        config={key: {"value": value, "source": source} for key, value, source in settings.items()} | resolved,
        versions=_versions(settings.mux.ffmpeg),
        seed=settings.motion.seed,
        plan={"n_samples": plan.n_samples, "sample_rate": plan.sample_rate, "fps": str(plan.fps),
              "frames_per_block": plan.frames_per_block, "n_frames": plan.n_frames,
              "blocks_per_segment": blocks_per_segment(plan, settings.jobs.segment_s)},  # fmt: skip
    )


def blocks_per_segment(plan: BlockPlan, segment_s: float) -> int:
    return max(1, math.ceil(segment_s * float(plan.fps) / plan.frames_per_block))


def plan_segments(plan: BlockPlan, per_segment: int) -> list[Segment]:
    """The segments of the video: runs of ``per_segment`` whole blocks covering every frame once."""
    segments = []
    for k in range(math.ceil(plan.n_blocks / per_segment)):
        first_block, last_block = k * per_segment, min(plan.n_blocks, (k + 1) * per_segment) - 1
        first = plan.block(first_block).first_frame
        end = plan.block(last_block).first_frame + plan.block(last_block).n_frames
        segments.append(Segment(k, first, end - first))
    return segments


def open_manifest(checked: Checked, settings: Settings, plan: BlockPlan, device: str, threads: int) -> Manifest:
    """Start a job, or resume one whose identity is unchanged (JobError when it changed)."""
    identity = job_identity(checked, settings, plan, device, threads)
    manifest = Manifest.load(checked.job_dir)
    if manifest is not None and manifest.status == "complete":
        manifest = None  # rendered before and delivered; this is a new render of the same job
    if manifest is not None:
        changes = identity.changes_from(manifest.identity)
        if changes:
            raise JobError(
                f"cannot resume job {checked.job_dir}: " + "; ".join(changes),
                hint="rerun with the original inputs and settings, or pass --fresh to start over",
            )
        return manifest
    segments = plan_segments(plan, identity.plan["blocks_per_segment"])
    manifest = Manifest(checked.job_dir / "manifest.json", identity, segments, output=str(checked.job.out))
    manifest.save()
    return manifest


def render_segments(chain: FrameChain, manifest: Manifest, job_dir: Path, settings: Settings, threads: int,
                    on_event: EventCallback) -> float | None:
    """Render every pending segment into its own file, recording each in the manifest as it finishes.

    Returns when the first frame reached ffmpeg (``time.perf_counter``), None if none did.
    """
    from talkcli.pipeline import encode_segment

    total = manifest.first_frame_of(len(manifest.segments))
    resume_at = manifest.first_pending()
    done = manifest.first_frame_of(resume_at)
    first_frame_time = None
    on_event(StageStarted("render", total=total, unit="frames"))
    on_event(StageProgress("render", done, total))

    def on_block(n: int) -> None:
        nonlocal done
        done += n
        on_event(StageProgress("render", done, total))

    for k in range(resume_at, len(manifest.segments)):
        path = job_dir / manifest.segment_file(k)
        first = encode_segment(chain, manifest.blocks_of(k), path, settings, threads, on_block)
        first_frame_time = first_frame_time or first
        manifest.mark_done(k, path.name, chain.motion.state_dict(), sha256_file(path))
    return first_frame_time


def deliver(checked: Checked, manifest: Manifest, settings: Settings, clock: Clock, on_event: EventCallback) -> None:
    """Join the segments and mux the original audio: the only write to the user's path."""
    from talkcli.mux.concat import join_segments

    on_event(StageStarted("mux"))
    t = time.perf_counter()
    job_dir = checked.job_dir
    seg_files = [job_dir / seg.file for seg in manifest.segments]
    missing = [p.name for p in seg_files if not p.is_file()]
    if missing:
        raise JobError(f"job {job_dir} lost finished segments ({', '.join(missing[:3])})", hint="start over with --fresh")
    out = Path(checked.job.out)
    with contextlib.nullcontext() if checked.to_stdout else delivering(out, checked.output_at_start, checked.job.overwrite):
        join_segments(
            seg_files, Path(checked.job.audio), "-" if checked.to_stdout else out,
            list_file=job_dir / "segments.ffconcat", audio_bitrate=settings.mux.audio_bitrate, ffmpeg=settings.mux.ffmpeg,
            metadata={"comment": f"{COMMENT_PREFIX}{job_dir.resolve()}"},
        )  # fmt: skip
    clock.add("join", time.perf_counter() - t)
    on_event(StageFinished("mux", time.perf_counter() - t))


def finish(checked: Checked, manifest: Manifest, prepared: Prepared, shape: tuple[int, int], device: str, clock: Clock,
           timing: dict, aligned: bool, resumed: int) -> RenderResult:
    """Record the render, mark the job complete and drop its segment videos.

    ``timing``: ``setup`` (seconds per set-up stage) and the ``time.perf_counter`` moments
    the render ``started``, the audio was ready (``audio_ready``) and the ``first_frame`` reached ffmpeg;
    ``resumed``: segments found finished when the run began.
    """
    plan = prepared.speech.plan
    # Phones are decoded inside the driver's blocks: report them on their own.
    clock.totals["motion"] = clock.totals.get("motion", 0.0) - clock.totals.get("phones", 0.0)
    rendered = max(1, plan.n_frames - manifest.first_frame_of(resumed))
    first = timing["first_frame"]
    result = RenderResult(
        output=Path(checked.job.out), n_frames=plan.n_frames, fps=float(plan.fps), width=shape[1], height=shape[0],
        audio_duration_s=prepared.speech.audio.duration_s, device=device, seconds=time.perf_counter() - timing["started"],
        time_to_first_frame_s=(first - timing["audio_ready"]) if first else 0.0,
        setup_seconds=timing["setup"], stage_ms_per_frame={k: 1000.0 * v / rendered for k, v in clock.totals.items()},
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, n_faces=prepared.face.n_faces,
        aligned=aligned, job_dir=checked.job_dir, resumed_segments=resumed,
    )  # fmt: skip
    write_json_atomic(checked.job_dir / RENDER_RECORD, asdict(result))
    manifest.status = "complete"
    if not checked.to_stdout:
        manifest.output_sha256 = sha256_file(Path(checked.job.out))
    manifest.save()
    for seg in manifest.segments:
        (checked.job_dir / seg.file).unlink(missing_ok=True)
    return result
