"""Wires the stages in order; stage logic lives in the stage packages, not here.

Each stage hands a typed value to the next:

  1. prepare      the photo's face, cropped (``face.reference.ReferenceFace``), and the
                  speech, decoded and planned into frames (``audio.speech.Speech``)
  2. driver       speech -> ``MotionBlock``s, block by block (``engines.choose_driver``)
  3. frame source motion -> ``CropFrame``s: each crop with its own ``PasteData``
                  (``engines.choose_frame_source``)
  4. enhance      optional face restoration of a block's crops; paste data untouched
  5. paste-back   each crop into the photo with its own paste data (``render.paste``)
  6. encode       frames -> one H.264 file per segment (``mux.writer``)

The job around the chain (identity, lock, segments, resume, join, delivery,
clean-up) belongs to ``talkcli.jobs.runner``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from talkcli.audio.speech import Speech
from talkcli.config.settings import Settings
from talkcli.events import EventCallback, Notice, StageFinished, StageProgress, StageStarted
from talkcli.face.reference import ReferenceFace
from talkcli.job import Models, RenderJob
from talkcli.motion.driver import MotionStream
from talkcli.render.paste import CropFrame, PasteBack
from talkcli.render.source import FrameSource
from talkcli.timing import Clock


PASTE_AHEAD = 2  # crop frames handed to the paste thread before the oldest is taken back: room for an uneven frame


@dataclass(frozen=True)
class Prepared:
    """Stage 1's result: the face and the speech, and the wall seconds each took."""

    face: ReferenceFace
    speech: Speech
    setup_seconds: dict[str, float]


def prepare(job: RenderJob, settings: Settings, models: Models, scratch: Path, on_event: EventCallback) -> Prepared:
    """1. Read the photo(s) and find the face; decode the speech into ``scratch`` and plan its frames."""
    from talkcli.audio.speech import read_speech
    from talkcli.face.reference import read_reference

    warn = lambda message: on_event(Notice("warning", message))  # noqa: E731
    on_event(StageStarted("face"))
    t = time.perf_counter()
    face = read_reference(Path(job.ref), tuple(job.extra_refs), settings.face, models.landmarker, warn,
                          full_frame=not settings.render.crop_only,
                          max_size=0 if settings.render.crop_only else settings.render.max_size)
    setup = {"face": time.perf_counter() - t}
    on_event(StageFinished("face", setup["face"]))

    on_event(StageStarted("audio"))
    t = time.perf_counter()
    speech = read_speech(Path(job.audio), settings.audio, settings.mux.ffmpeg, scratch, job.allow_long, warn)
    setup["audio"] = time.perf_counter() - t
    on_event(StageFinished("audio", setup["audio"]))
    return Prepared(face, speech, setup)


def enhancer_weights(settings: Settings) -> tuple[Path, Any] | None:
    """The enhancer's model file and config, checked before any work; None without enhancement."""
    if settings.enhance.method != "gfpgan":
        return None
    from talkcli.models.registry import get_entry, resolve_model

    weights = resolve_model("gfpgan", settings.models.models_dir)  # missing or wrong: fail before any work
    return weights, get_entry("gfpgan").config or None


class Enhance:
    """4. Restores a block's crop frames together; each keeps its own paste data."""

    def __init__(self, enhancer, total: int, clock: Clock, on_event: EventCallback) -> None:
        self.enhancer = enhancer
        self.total = total  # frames this run will enhance, for progress
        self.clock = clock
        self.on_event = on_event

    def __call__(self, frames: list[CropFrame]) -> list[CropFrame]:
        t = time.perf_counter()
        done_before = self.enhancer.frames_done
        progress = lambda k: self.on_event(StageProgress("enhance", done_before + k, self.total))  # noqa: E731
        images = self.enhancer.enhance(np.stack([f.image for f in frames]), progress=progress)
        self.clock.add("enhance", time.perf_counter() - t)
        return [f.with_image(image) for f, image in zip(frames, images)]


def make_enhance(settings: Settings, weights: tuple[Path, Any], face: ReferenceFace, device: str, total: int,
                 clock: Clock, on_event: EventCallback) -> Enhance:
    """Load the enhancer (GFPGAN) and announce its stage; warns when it will take long on this device."""
    from talkcli.enhance.enhancer import GfpganEnhancer, five_points, long_run_warning

    path, config = weights
    enhancer = GfpganEnhancer(
        path, device, settings.enhance.strength, settings.enhance.batch_size,
        face_points=five_points(face.crop_landmarks) if settings.enhance.align else None, config=config,
    )  # fmt: skip
    warning = long_run_warning(total, device)
    if warning:
        on_event(Notice("warning", warning))
    on_event(StageStarted("enhance", total=total, unit="frames"))
    return Enhance(enhancer, total, clock, on_event)


class FrameChain:
    """Stages 2 to 5 for one motion block at a time: motion -> crops -> enhance -> paste-back.

    Wall time goes to the clock: the driver's blocks to "motion" (its phones, pulled
    inside, to "phones"), crops and paste-back to "render" (with ``stream``, the wait for the
    paste thread), the enhancer to "enhance".
    """

    def __init__(self, motion: MotionStream, source: FrameSource, enhance: Enhance | None,
                 paste: PasteBack | None, clock: Clock) -> None:
        self.motion = motion
        self.source = source
        self.enhance = enhance
        self.paste = paste
        self.clock = clock

    @property
    def output_shape(self) -> tuple[int, int]:
        """(height, width) of the frames: the photo's (even) size, or the crop's with --crop-only."""
        return self.paste.shape if self.paste is not None else (self.source.crop_size, self.source.crop_size)

    def crops(self, index: int) -> Iterator[CropFrame]:
        """Stages 2 to 4: the crop frames of motion block ``index``, in order."""
        t = time.perf_counter()
        block = self.motion.next_block(index)
        self.clock.add("motion", time.perf_counter() - t)
        crops: Iterator[CropFrame] = self.clock.timed(self.source.crops(block), "render")
        if self.enhance is not None:
            crops = iter(self.enhance(list(crops)))
        return crops

    def frames(self, index: int) -> Iterator[np.ndarray]:
        """The frames of motion block ``index``, ``(H, W, 3) uint8`` RGB each, in order."""
        for crop in self.crops(index):
            if self.paste is None:
                yield crop.image
                continue
            t = time.perf_counter()
            frame = self.paste.paste_frame(crop)
            self.clock.add("render", time.perf_counter() - t)
            yield frame

    def stream(self, blocks: range) -> Iterator[tuple[np.ndarray, bool]]:
        """``(frame, False)`` for the frames of ``blocks`` in order, and ``(None, True)`` after each
        block's last one: ``frames`` block after block, but paste-back (5) runs on a second
        thread, up to ``PASTE_AHEAD`` frames behind the crops, so that it overlaps the next
        crop's rendering and the caller's encoding (both release the GIL in OpenCV, numba and
        the pipe to ffmpeg). The frames are the same."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        if self.paste is None:
            for index in blocks:
                yield from ((frame, False) for frame in self.frames(index))
                yield None, True  # the block's end
            return
        pending: deque = deque()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paste") as pool:
            for index in blocks:
                for crop in self.crops(index):
                    pending.append(pool.submit(self.paste.paste_frame, crop))
                    while len(pending) > PASTE_AHEAD:
                        yield self._pasted(pending.popleft())
                pending.append(None)  # the block's end
            while pending:
                yield self._pasted(pending.popleft())

    def _pasted(self, job) -> tuple[np.ndarray | None, bool]:
        """A frame from the paste thread; the time spent waiting for it goes to "render", so that
        the stages still add up to the frame loop's wall time."""
        if job is None:
            return None, True
        t = time.perf_counter()
        frame = job.result()
        self.clock.add("render", time.perf_counter() - t)
        return frame, False


def build_chain(prepared: Prepared, settings: Settings, models: Models, device: str, saved_state: dict | None,
                transcript: str | None, enhance: Enhance | None, clock: Clock, on_event: EventCallback) -> tuple[FrameChain, Any]:
    """Stages 2 to 5 from the engines the settings choose; returns the chain and its driver."""
    from talkcli.engines import choose_driver, choose_frame_source

    face = prepared.face
    paste = None if settings.render.crop_only else PasteBack(face.photo, face.geometry)
    source = choose_frame_source(settings, face, device, detail=paste is not None and paste.detail, pasted=paste is not None)
    warn = lambda message: on_event(Notice("warning", message))  # noqa: E731
    driver = choose_driver(settings, prepared.speech.audio.samples, transcript, models, warn)
    motion = driver.start(prepared.speech.plan, saved_state, clock)
    return FrameChain(motion, source, enhance, paste, clock), driver


def encode_segment(chain: FrameChain, blocks: range, path: Path, settings: Settings, threads: int,
                   on_block: Callable[[int], None]) -> float | None:
    """6. The frames of ``blocks`` into the H.264 file ``path``; ``on_block(n_frames)`` after each block.

    Returns when the first frame reached ffmpeg (``time.perf_counter``), None if none did.
    """
    from talkcli.mux.writer import VideoWriter

    height, width = chain.output_shape
    mux = settings.mux
    writer = VideoWriter(path, width, height, settings.audio.frame_rate, None, ffmpeg=mux.ffmpeg, crf=mux.crf,
                         preset=mux.x264_preset, x264_params=mux.x264_params, overwrite=True, threads=threads)  # fmt: skip
    clock = chain.clock
    with writer:
        n = 0
        for frame, block_end in chain.stream(blocks):
            if block_end:
                on_block(n)
                n = 0
                continue
            t = time.perf_counter()
            writer.write(frame)
            clock.add("encode", time.perf_counter() - t)
            n += 1
        t = time.perf_counter()
    clock.add("encode", time.perf_counter() - t)  # flushing x264
    return writer.first_frame_time
