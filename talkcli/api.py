"""The library facade: ``render(job, settings, on_event) -> RenderResult``, ``cues`` and
``inspect``. Never prints; reports through the ``on_event`` callback.

Calls run one way: ``api -> jobs.runner -> pipeline stages``; the value types
live below all of them in ``talkcli.job``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcli.config.settings import Settings, load_settings
from talkcli.events import EventCallback, Notice, ignore_events
from talkcli.face.inspect import PhotoReport
from talkcli.job import Models, RenderJob, RenderResult

__all__ = ["Models", "RenderJob", "RenderResult", "render", "cues", "inspect", "Inspection"]


def render(job: RenderJob, settings: Settings | None = None, on_event: EventCallback = ignore_events,
           models: Models | None = None) -> RenderResult:
    """Render ``job`` to an MP4 (H.264 yuv420p + AAC) at ``job.out``, written atomically.

    Runs as a resumable job (``talkcli.jobs.runner``). ``models`` lets many renders share
    loaded models.
    """
    from talkcli.jobs.runner import run_job

    return run_job(job, settings or load_settings(), on_event, models)


def cues(audio: Path, transcript: Path | None = None, settings: Settings | None = None,
         on_event: EventCallback = ignore_events, models: Models | None = None,
         min_closure_frames: int = 2) -> list[str]:
    """The mouth class of every video frame of ``audio``, from the driver ``render`` would use.

    Same settings, same driver (``talkcli.engines``): ``audio.fps``, ``audio.lang``,
    ``audio.max_chunk_s`` and ``mux.ffmpeg`` apply. ``ceil(n * fps / 16000)`` class names.
    """
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.plan import frame_count
    from talkcli.audio.speech import read_transcript
    from talkcli.engines import choose_driver
    from talkcli.motion.cues import frame_classes

    settings = settings or load_settings()
    text = read_transcript(transcript)
    decoded = decode_audio(audio, settings.mux.ffmpeg)
    fps = settings.audio.frame_rate
    driver = choose_driver(settings, decoded.samples, text, models or Models(), lambda m: on_event(Notice("warning", m)))
    phones = [p for batch in driver.phone_batches() for p in batch.phones]
    note = driver.unaligned_note()
    if note:
        on_event(Notice("warning", note))
    return frame_classes(phones, frame_count(len(decoded.samples), decoded.sample_rate, fps), fps, min_closure_frames)


@dataclass(frozen=True)
class Inspection:
    """What ``inspect`` found: the overlay picture ``(H, W, 3) uint8`` RGB, faces found, the
    chosen face's index and its assessment."""

    picture: np.ndarray
    n_faces: int
    index: int
    report: PhotoReport
    crop_side: int  # pixels, the side of the face crop that would be animated
    output_size: tuple[int, int]  # (width, height) of the video render would write
    photo_size: tuple[int, int]  # (width, height) of the photo as read


def inspect(ref: Path, settings: Settings | None = None, models: Models | None = None) -> Inspection:
    """Faces, crop, landmarks and warnings of a photo, drawn over it, as ``render`` would see it
    (the ``face`` settings, ``render.crop_only`` and ``render.max_size``), and the size of the
    video ``render`` would write."""
    from talkcli.face.inspect import assess, overlay
    from talkcli.face.reference import read_reference
    from talkcli.render.paste import even_size

    settings = settings or load_settings()
    full_frame = not settings.render.crop_only
    face = read_reference(Path(ref), (), settings.face, (models or Models()).landmarker,
                          max_size=settings.render.max_size if full_frame else 0)
    report = assess(face.face, face.n_faces, face.index)
    side = face.crop.shape[0]
    h, w = even_size(face.photo.shape)
    picture = overlay(face.photo, list(face.faces), face.index, face.geometry, report)
    return Inspection(picture, face.n_faces, face.index, report, side, (w, h) if full_frame else (side, side), face.source_size)
