"""Wires the stages in order. Stage logic lives in the stage packages, not here."""

from __future__ import annotations

import dataclasses
import resource
import time
from pathlib import Path

from talkcli.api import RenderJob, RenderResult
from talkcli.config.settings import Settings
from talkcli.errors import AudioError, InputError
from talkcli.events import EventCallback, Notice, StageFinished, StageProgress, StageStarted


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


def run_pipeline(job: RenderJob, settings: Settings, on_event: EventCallback) -> RenderResult:
    from talkcli.audio.decode import decode_audio, decoded_is_silent
    from talkcli.audio.phonemes import PhoneRecognizer, phone_batches
    from talkcli.audio.plan import parse_fps, plan_blocks
    from talkcli.face.crop import face_crop
    from talkcli.face.detect import FaceLandmarker, choose_face
    from talkcli.face.image import load_image
    from talkcli.jobs.paths import COMMENT_PREFIX, RENDER_RECORD, default_job_dir, sha256_file, write_json_atomic
    from talkcli.motion.generator import MotionConfig, MotionGenerator
    from talkcli.mux.writer import VideoWriter, check_output_path
    from talkcli.render.device import resolve_device
    from talkcli.render.frames import FrameRenderer
    from talkcli.render.paste import PasteBack

    started = time.perf_counter()
    setup: dict[str, float] = {}
    ref, audio_path, out = Path(job.ref), Path(job.audio), Path(job.out)
    transcript_text = None
    if job.transcript is not None:
        tpath = Path(job.transcript)
        if not tpath.is_file():
            raise InputError(f"transcript not found: {tpath}", hint="check the --transcript path")
        try:
            transcript_text = tpath.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"transcript {tpath} is not UTF-8 text", hint="save it as plain UTF-8 text") from exc
    if not audio_path.is_file():
        raise AudioError(f"audio file not found: {audio_path}", hint="check the --audio path")
    # 0. Refuse an unwritable output before any work; find the job directory.
    inputs = [ref, audio_path] + ([Path(job.transcript)] if job.transcript else [])
    check_output_path(out, inputs, job.overwrite)
    job_dir = Path(job.job_dir) if job.job_dir else default_job_dir(out, [sha256_file(p) for p in inputs if p.is_file()])

    # 1. Face: read the photo, find the face, crop it.
    on_event(StageStarted("face"))
    t = time.perf_counter()
    photo = load_image(ref)
    with FaceLandmarker() as landmarker:
        faces = landmarker.faces(photo)
    face = choose_face(faces, settings.face.face_index, str(ref))
    if len(faces) > 1:
        index = settings.face.face_index or 0
        on_event(Notice("warning", f"{len(faces)} faces found in {ref.name}; animating face {index} (0 = largest; see --face-index)"))
    geometry = face_crop(face.landmarks, photo.shape, settings.face.size, settings.face.face_fraction)
    crop = geometry.crop(photo)
    crop_landmarks = geometry.to_crop(face.landmarks)
    setup["face"] = time.perf_counter() - t
    on_event(StageFinished("face", setup["face"]))

    # 2. Audio: decode to 16 kHz mono for analysis; plan frame-exact blocks.
    on_event(StageStarted("audio"))
    t = time.perf_counter()
    audio = decode_audio(audio_path, settings.mux.ffmpeg)
    if decoded_is_silent(audio.samples):
        on_event(Notice("warning", f"{audio_path.name} is silent (below -60 dBFS): the mouth will stay closed"))
    fps = parse_fps(settings.audio.fps)
    plan = plan_blocks(len(audio.samples), audio.sample_rate, fps, settings.audio.frames_per_block)
    setup["audio"] = time.perf_counter() - t
    on_event(StageFinished("audio", setup["audio"]))
    audio_ready = time.perf_counter()

    # 3. Renderer: mesh rig over the crop, paste-back into the photo unless --crop-only.
    t = time.perf_counter()
    device = resolve_device(settings.render.device)
    paste = None if settings.render.crop_only else PasteBack(photo, geometry)
    renderer = FrameRenderer(crop, crop_landmarks, map_scale=settings.render.map_scale, paste=paste, device=device)
    height, width = renderer.output_shape
    recognizer = PhoneRecognizer()
    setup["models"] = time.perf_counter() - t

    # 4. Phones -> motion, block by block, lazily: phones of later chunks are
    #    decoded only when the motion generator reaches them.
    clock = _Clock()
    aligned = []

    def batches():
        for batch in phone_batches(audio.samples, recognizer, transcript_text, settings.audio.max_chunk_s):
            aligned.append(batch.aligned)
            yield batch

    motion_cfg = MotionConfig(
        seed=settings.motion.seed,
        head_motion=settings.motion.head_motion,
        blink_interval_s=settings.motion.blink_interval_s,
    )
    generator = MotionGenerator(plan, _timed(batches(), clock, "phones"), motion_cfg)

    # 5-6. Render each block and stream its frames to ffmpeg as soon as they exist.
    on_event(StageStarted("render", total=plan.n_frames, unit="frames"))
    writer = VideoWriter(
        out, width, height, fps, audio_path,
        ffmpeg=settings.mux.ffmpeg, crf=settings.mux.crf, preset=settings.mux.x264_preset,
        audio_bitrate=settings.mux.audio_bitrate, overwrite=job.overwrite,
        metadata={"comment": f"{COMMENT_PREFIX}{job_dir.resolve()}"},
    )
    done = 0
    with writer:
        for index in range(plan.n_blocks):
            t = time.perf_counter()
            block = generator.next_block(index)
            clock.add("motion", time.perf_counter() - t - 0.0)
            for frame in _timed(renderer.render_block(block), clock, "render"):
                t = time.perf_counter()
                writer.write(frame)
                clock.add("encode", time.perf_counter() - t)
            done += block.n
            on_event(StageProgress("render", done, plan.n_frames))
        t = time.perf_counter()
    clock.add("encode", time.perf_counter() - t)  # flushing x264 and muxing the audio
    on_event(StageFinished("render", time.perf_counter() - audio_ready))
    if transcript_text is not None and not all(aligned):
        on_event(Notice("warning", "forced alignment to the transcript failed; phones were recognised from the audio instead"))
    # Phone decoding happens inside the motion generator's pull; report it separately.
    clock.totals["motion"] = clock.totals.get("motion", 0.0) - clock.totals.get("phones", 0.0)
    first = writer.first_frame_time or time.perf_counter()
    result = RenderResult(
        output=out,
        n_frames=plan.n_frames,
        fps=float(fps),
        width=width,
        height=height,
        audio_duration_s=audio.duration_s,
        device=device,
        seconds=time.perf_counter() - started,
        time_to_first_frame_s=first - audio_ready,
        setup_seconds=setup,
        stage_ms_per_frame={k: 1000.0 * v / max(plan.n_frames, 1) for k, v in clock.totals.items()},
        peak_rss_mb=_peak_rss_mb(),
        n_faces=len(faces),
        aligned=bool(aligned) and all(aligned),
        job_dir=job_dir,
    )
    write_json_atomic(job_dir / RENDER_RECORD, dataclasses.asdict(result))
    return result
