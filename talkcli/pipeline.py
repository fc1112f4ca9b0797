"""Wires the stages in order. Stage logic lives in the stage packages, not here.

A render runs as a job: the video is cut into segments (about 10 s each);
each segment's frames stream into its own H.264 file as they are produced,
and the manifest records each finished segment with the motion state at its
end. A rerun of the same command (or ``talk resume``) skips finished
segments and continues from the recorded state, so an interrupted job ends
with exactly the frames an uninterrupted one would have produced. The final
file is the segments joined by stream copy, with the original audio as AAC.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from talkcli import __version__
from talkcli.api import RenderJob, RenderResult
from talkcli.config.settings import Settings
from talkcli.errors import AudioError, InputError, UsageError
from talkcli.events import EventCallback, Notice, StageFinished, StageProgress, StageStarted

MAX_AUDIO_S = 10 * 3600  # longer input is refused unless settings allow it


class _Clock:
    """Accumulates wall time per named stage."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds


def _timed(iterator, clock: _Clock, name: str):
    """Yield from ``iterator``, charging the time spent inside it to ``name``."""
    it = iter(iterator)
    while True:
        t = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            clock.add(name, time.perf_counter() - t)
            return
        clock.add(name, time.perf_counter() - t)
        yield item


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Models:
    """Models that load once and serve many renders (``talk batch``)."""

    def __init__(self) -> None:
        self._landmarker = None
        self._recognizer = None

    @property
    def landmarker(self):
        if self._landmarker is None:
            from talkcli.face.detect import FaceLandmarker

            self._landmarker = FaceLandmarker()
        return self._landmarker

    @property
    def recognizer(self):
        if self._recognizer is None:
            from talkcli.audio.phonemes import PhoneRecognizer

            self._recognizer = PhoneRecognizer()
        return self._recognizer


def _source_digest() -> str:
    """sha256 over talk's own code and presets: a resumed job must be finished by the same code."""
    import hashlib

    root = Path(__file__).resolve().parent
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


def run_pipeline(job: RenderJob, settings: Settings, on_event: EventCallback, models: Models | None = None) -> RenderResult:
    from talkcli.audio.decode import decode_audio, decoded_is_silent
    from talkcli.audio.phonemes import phone_batches
    from talkcli.audio.plan import parse_fps, plan_blocks
    from talkcli.face.crop import face_crop
    from talkcli.face.detect import choose_face
    from talkcli.face.image import load_image
    from talkcli.jobs.manifest import FORMAT_VERSION, JobError, JobLock, Manifest, describe_differences
    from talkcli.jobs.paths import (
        COMMENT_PREFIX, RENDER_RECORD, default_job_dir, input_hashes, input_paths, sha256_file,
    )
    from talkcli.files import write_json_atomic
    from talkcli.motion.generator import MotionConfig, MotionGenerator, MotionState
    from talkcli.motion.prosody import chunk_prosody
    from talkcli.mux.concat import join_segments
    from talkcli.mux.writer import VideoWriter, check_output_path
    from talkcli.render.device import resolve_device
    from talkcli.render.frames import FrameRenderer
    from talkcli.render.paste import PasteBack

    models = models or Models()
    started = time.perf_counter()
    setup: dict[str, float] = {}
    ref, audio_path = Path(job.ref), Path(job.audio)
    to_stdout = str(job.out) == "-"
    out = Path(job.out)
    transcript_text = None
    if job.transcript is not None:
        tpath = Path(job.transcript)
        if not tpath.is_file():
            raise InputError(f"transcript not found: {tpath}", hint="check the --transcript path")
        try:
            transcript_text = tpath.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"transcript {tpath} is not UTF-8 text", hint="save it as plain UTF-8 text") from exc
    if len(job.extra_refs) > 2:
        raise UsageError(f"--ref given {1 + len(job.extra_refs)} times; at most 3 photos", hint="the first is animated, two more may help")
    for photo in (ref, *job.extra_refs):
        if not Path(photo).is_file():
            raise InputError(f"reference photo not found: {photo}", hint="check the --ref path")
    if not audio_path.is_file():
        raise AudioError(f"audio file not found: {audio_path}", hint="check the --audio path")

    # 0. Refuse an unwritable output before any work; identify the job.
    inputs = input_paths(ref, audio_path, job.transcript, job.extra_refs)
    if not to_stdout:
        check_output_path(out, list(inputs.values()), job.overwrite)
    weights = None
    if settings.enhance.method == "gfpgan":
        from talkcli.models.registry import get_entry, resolve_model

        weights = resolve_model("gfpgan", settings.models.models_dir)  # missing or wrong: fail before any work
        weights_config = get_entry("gfpgan").config or None
    hashes = input_hashes(ref, audio_path, job.transcript, job.extra_refs)
    job_dir = Path(job.job_dir) if job.job_dir else default_job_dir(out, hashes)
    if job.fresh and job_dir.exists():
        shutil.rmtree(job_dir)

    with contextlib.ExitStack() as stack:
        # 1. Face: read the photo, find the face, crop it.
        on_event(StageStarted("face"))
        t = time.perf_counter()
        photo = load_image(ref)
        faces = models.landmarker.faces(photo)
        face = choose_face(faces, settings.face.face_index, str(ref))
        if len(faces) > 1:
            index = settings.face.face_index or 0
            on_event(Notice("warning", f"{len(faces)} faces found in {ref.name}; animating face {index} (0 = largest; see --face-index)"))
        geometry = face_crop(face.landmarks, photo.shape, settings.face.size, settings.face.face_fraction)
        crop = geometry.crop(photo)
        crop_landmarks = geometry.to_crop(face.landmarks)
        extra = []  # other photos of the same person, cropped the same way: teeth, mouth interior
        for other in job.extra_refs:
            image = load_image(other)
            other_face = choose_face(models.landmarker.faces(image), 0, str(other))
            g = face_crop(other_face.landmarks, image.shape, settings.face.size, settings.face.face_fraction)
            extra.append((g.crop(image), g.to_crop(other_face.landmarks)))
        setup["face"] = time.perf_counter() - t
        on_event(StageFinished("face", setup["face"]))

        # 2. Audio: decode to 16 kHz mono for analysis; plan frame-exact blocks and segments.
        on_event(StageStarted("audio"))
        t = time.perf_counter()
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="talk-")))
        audio = decode_audio(audio_path, settings.mux.ffmpeg, keep_in=scratch)
        if audio.duration_s > MAX_AUDIO_S and not job.allow_long:
            raise AudioError(
                f"{audio_path.name} is {audio.duration_s / 3600:.1f} hours long; the limit is {MAX_AUDIO_S // 3600} hours",
                hint="split it, or pass --allow-long to render it anyway",
            )
        if decoded_is_silent(audio.samples):
            on_event(Notice("warning", f"{audio_path.name} is silent (below -60 dBFS): the mouth will stay closed"))
        fps = parse_fps(settings.audio.fps)
        plan = plan_blocks(len(audio.samples), audio.sample_rate, fps, settings.audio.frames_per_block)
        blocks_per_segment = max(1, math.ceil(settings.jobs.segment_s * float(fps) / plan.frames_per_block))
        n_segments = math.ceil(plan.n_blocks / blocks_per_segment)
        setup["audio"] = time.perf_counter() - t
        on_event(StageFinished("audio", setup["audio"]))
        audio_ready = time.perf_counter()

        # 3. Manifest: start a job, or resume one whose inputs and settings are unchanged.
        #    The job directory appears only now, once the inputs have proved usable.
        stack.enter_context(JobLock(job_dir))
        for stale in job_dir.glob(".*.part.*"):  # left by a killed run; we hold the lock, so no one writes them
            stale.unlink(missing_ok=True)
        device = resolve_device(settings.render.device)
        # x264 shares the machine with the renderer: by default it gets all cores but one.
        x264_threads = settings.mux.x264_threads or max(1, (os.cpu_count() or 2) - 1)
        identity = {
            "format": FORMAT_VERSION,
            "inputs": {name: {"path": str(p.resolve()), "sha256": hashes[name]} for name, p in inputs.items()},
            "config": {key: {"value": value, "source": source} for key, value, source in settings.items()}
            | {"render.device_resolved": {"value": device, "source": "resolved"},
               "mux.x264_threads_resolved": {"value": x264_threads, "source": "resolved"}},
            "versions": _versions(settings.mux.ffmpeg),
            "seed": settings.motion.seed,
            "plan": {
                "n_samples": plan.n_samples, "sample_rate": plan.sample_rate, "fps": str(fps),
                "frames_per_block": plan.frames_per_block, "n_frames": plan.n_frames,
                "blocks_per_segment": blocks_per_segment,
            },  # fmt: skip
        }
        manifest = Manifest.load(job_dir)
        if manifest is not None and manifest.data.get("status") == "complete":
            manifest = None  # rendered before and delivered; this is a new render of the same job
        if manifest is not None:
            changes = describe_differences(manifest.data, identity)
            if changes:
                raise JobError(
                    f"cannot resume job {job_dir}: " + "; ".join(changes),
                    hint="rerun with the original inputs and settings, or pass --fresh to start over",
                )
        else:
            segments = []
            for k in range(n_segments):
                first_block = k * blocks_per_segment
                last_block = min(plan.n_blocks, first_block + blocks_per_segment) - 1
                first = plan.block(first_block).first_frame
                end = plan.block(last_block).first_frame + plan.block(last_block).n_frames
                segments.append({"index": k, "first_frame": first, "n_frames": end - first, "status": "pending"})
            manifest = Manifest(job_dir / "manifest.json", identity | {"segments": segments, "status": "rendering", "output": str(out)})
            manifest.save()
        resume_at = manifest.first_pending()
        if resume_at > 0:
            on_event(Notice("info", f"resuming job {job_dir}: {resume_at} of {n_segments} segments already rendered"))

        # 4. Renderer: mesh rig over the crop, paste-back into the photo unless --crop-only.
        t = time.perf_counter()
        paste = None if settings.render.crop_only else PasteBack(photo, geometry)
        renderer = FrameRenderer(
            crop, crop_landmarks, map_scale=settings.render.map_scale, paste=paste, device=device,
            expression=settings.render.expression, extra_refs=extra or None,
            rest_gap=0.0 if settings.render.rest_lips == "closed" else 1.0,
        )  # fmt: skip
        height, width = renderer.output_shape
        recognizer = models.recognizer
        setup["models"] = time.perf_counter() - t
        enhance = None
        if weights is not None:
            from talkcli.enhance.enhancer import GfpganEnhancer, five_points, long_run_warning

            t = time.perf_counter()
            enhancer = GfpganEnhancer(
                weights, device, settings.enhance.strength, settings.enhance.batch_size,
                face_points=five_points(crop_landmarks) if settings.enhance.align else None, config=weights_config,
            )  # fmt: skip
            setup["enhance"] = time.perf_counter() - t
            remaining = plan.n_frames - manifest.segments[resume_at]["first_frame"] if resume_at < n_segments else 0
            warning = long_run_warning(remaining, device)
            if warning:
                on_event(Notice("warning", warning))
            on_event(StageStarted("enhance", total=remaining, unit="frames"))

            def enhance(crops):
                t0 = time.perf_counter()
                done_before = enhancer.frames_done
                out = enhancer.enhance(crops, progress=lambda k: on_event(StageProgress("enhance", done_before + k, remaining)))
                clock.add("enhance", time.perf_counter() - t0)
                return out

        # 5. Phones -> motion -> frames, segment by segment, block by block, lazily:
        #    phones of later chunks are decoded only when the motion generator reaches them.
        clock = _Clock()
        aligned: list[bool] = []
        saved = manifest.state_before(resume_at)
        state = MotionState(**saved) if saved is not None else None

        english = settings.audio.lang.lower() in ("en", "eng", "english") or settings.audio.lang.lower().startswith("en-")
        if not english and transcript_text is not None:
            on_event(Notice("warning", f"--transcript is used for English only; {settings.audio.lang} speech is driven from the audio"))

        def batches(start_s: float):
            if english:
                it = phone_batches(audio.samples, recognizer, transcript_text, settings.audio.max_chunk_s, start_s=start_s)
            else:
                from talkcli.audio.acoustic import acoustic_batches

                it = acoustic_batches(audio.samples, settings.audio.max_chunk_s, start_s=start_s)
            for batch in it:
                aligned.append(batch.aligned)
                yield batch

        motion_cfg = MotionConfig(
            seed=settings.motion.seed,
            head_motion=settings.motion.head_motion,
            blink_interval_s=settings.motion.blink_interval_s,
        )
        start_s = state.phones_known_until_s if state is not None else 0.0
        generator = MotionGenerator(
            plan, _timed(batches(start_s), clock, "phones"), motion_cfg, state,
            prosody=chunk_prosody(audio.samples, plan) if settings.motion.head_motion > 0 else None,
        )  # fmt: skip

        first_frame_time = None
        done = manifest.segments[resume_at]["first_frame"] if resume_at < n_segments else plan.n_frames
        on_event(StageStarted("render", total=plan.n_frames, unit="frames"))
        on_event(StageProgress("render", done, plan.n_frames))
        for k in range(resume_at, n_segments):
            seg_file = job_dir / f"segment_{k:05d}.mp4"
            writer = VideoWriter(
                seg_file, width, height, fps, None,
                ffmpeg=settings.mux.ffmpeg, crf=settings.mux.crf, preset=settings.mux.x264_preset, overwrite=True,
                threads=x264_threads,
            )  # fmt: skip
            with writer:
                first_block = k * blocks_per_segment
                for index in range(first_block, min(plan.n_blocks, first_block + blocks_per_segment)):
                    t = time.perf_counter()
                    block = generator.next_block(index)
                    clock.add("motion", time.perf_counter() - t)
                    for frame in _timed(renderer.render_block(block, enhance), clock, "render"):
                        t = time.perf_counter()
                        writer.write(frame)
                        clock.add("encode", time.perf_counter() - t)
                    done += block.n
                    on_event(StageProgress("render", done, plan.n_frames))
                t = time.perf_counter()
            clock.add("encode", time.perf_counter() - t)  # flushing x264
            if first_frame_time is None:
                first_frame_time = writer.first_frame_time
            manifest.mark_done(k, seg_file.name, dataclasses.asdict(generator.state), sha256_file(seg_file))
        on_event(StageFinished("render", time.perf_counter() - audio_ready))
        if enhance is not None:
            on_event(StageFinished("enhance", clock.totals.get("enhance", 0.0)))

        # 6. Join the segments and mux the original audio: the only write to the user's path.
        on_event(StageStarted("mux"))
        t = time.perf_counter()
        seg_files = [job_dir / seg["file"] for seg in manifest.segments]
        missing = [p.name for p, seg in zip(seg_files, manifest.segments) if not p.is_file()]
        if missing:
            raise JobError(f"job {job_dir} lost finished segments ({', '.join(missing[:3])})", hint="start over with --fresh")
        join_segments(
            seg_files, audio_path, "-" if to_stdout else out, list_file=job_dir / "segments.ffconcat",
            audio_bitrate=settings.mux.audio_bitrate, ffmpeg=settings.mux.ffmpeg,
            metadata={"comment": f"{COMMENT_PREFIX}{job_dir.resolve()}"},
        )  # fmt: skip
        clock.add("join", time.perf_counter() - t)
        on_event(StageFinished("mux", time.perf_counter() - t))

    if transcript_text is not None and english and not all(aligned):
        on_event(Notice("warning", "forced alignment to the transcript failed for part of the audio; that part was recognised from the audio instead"))
    # Phone decoding happens inside the motion generator's pull, enhancement inside the
    # renderer's: report each separately.
    clock.totals["motion"] = clock.totals.get("motion", 0.0) - clock.totals.get("phones", 0.0)
    if "enhance" in clock.totals:
        clock.totals["render"] = clock.totals.get("render", 0.0) - clock.totals["enhance"]
    rendered = max(1, plan.n_frames - (manifest.segments[resume_at]["first_frame"] if resume_at < n_segments else plan.n_frames))
    result = RenderResult(
        output=out,
        n_frames=plan.n_frames,
        fps=float(fps),
        width=width,
        height=height,
        audio_duration_s=audio.duration_s,
        device=device,
        seconds=time.perf_counter() - started,
        time_to_first_frame_s=(first_frame_time - audio_ready) if first_frame_time else 0.0,
        setup_seconds=setup,
        stage_ms_per_frame={k: 1000.0 * v / rendered for k, v in clock.totals.items()},
        peak_rss_mb=_peak_rss_mb(),
        n_faces=len(faces),
        aligned=bool(aligned) and all(aligned),
        job_dir=job_dir,
        resumed_segments=resume_at,
    )
    write_json_atomic(job_dir / RENDER_RECORD, dataclasses.asdict(result))
    # The job is complete: keep the manifest and timings, drop the segment videos.
    manifest.data["status"] = "complete"
    if not to_stdout:
        manifest.data["output_sha256"] = sha256_file(out)
    manifest.save()
    for p in seg_files:
        p.unlink(missing_ok=True)
    return result
