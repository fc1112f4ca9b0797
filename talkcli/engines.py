"""The engine seam: the one place that chooses the engines of a render from its settings.

Two kinds of engine plug into the pipeline:

- a ``Driver`` (``talkcli.motion.driver``): speech -> motion blocks. Today:
  pocketsphinx phones for English (recognised, or aligned to a transcript) and
  acoustic pseudo-phones for every other language, both through the
  rule-based motion generator;
- a ``FrameSource`` (``talkcli.render.source``): motion -> face crops, each
  with its paste data. Today: the photo warp (``talkcli.render.frames``).

``talk render``, ``talk cues``, ``talk batch`` and ``talk eval`` all come
through here. A new engine (learned motion, a video source, a neural decoder)
is its own module in its stage's folder plus a branch in one function below.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from talkcli.config.settings import Settings
from talkcli.face.reference import ReferenceFace
from talkcli.job import Models
from talkcli.motion.driver import PhoneDriver
from talkcli.render.source import FrameSource

ENGLISH = ("en", "eng", "english")


def is_english(lang: str) -> bool:
    """``en``, ``eng``, ``english`` or a regional English (``en-US``, ``en_GB``)."""
    code = lang.lower()
    return code in ENGLISH or code.startswith(("en-", "en_"))


def choose_driver(settings: Settings, samples: np.ndarray, transcript: str | None, models: Models,
                  warn: Callable[[str], None] = lambda message: None) -> PhoneDriver:
    """The driver for ``settings`` (``audio.lang``) over ``samples`` (16 kHz mono float32).

    ``transcript`` (text) times English phones by forced alignment; other languages ignore
    it, and ``warn(message)`` says so.
    """
    max_chunk_s = settings.audio.max_chunk_s
    if is_english(settings.audio.lang):
        from talkcli.audio.phonemes import phone_batches

        recognizer = models.recognizer
        return PhoneDriver(
            "transcript" if transcript is not None else "phones", samples, settings,
            lambda start_s: phone_batches(samples, recognizer, transcript, max_chunk_s, start_s=start_s),
            uses_transcript=transcript is not None,
        )  # fmt: skip
    from talkcli.audio.acoustic import acoustic_batches

    if transcript is not None:
        warn(f"--transcript is used for English only; {settings.audio.lang} speech is driven from the audio")
    return PhoneDriver("acoustic", samples, settings, lambda start_s: acoustic_batches(samples, max_chunk_s, start_s=start_s),
                       uses_transcript=False)  # fmt: skip


def choose_frame_source(settings: Settings, face: ReferenceFace, device: str, detail: bool, pasted: bool = True) -> FrameSource:
    """The frame source for ``settings``: the photo warp of ``face``'s crop.

    ``pasted``: frames go to paste-back (they say where they changed); ``detail``: paste-back
    adds full-resolution detail, so frames carry their warp maps.
    """
    from talkcli.render.frames import FrameRenderer

    render = settings.render
    return FrameRenderer(
        face.crop, face.crop_landmarks, map_scale=render.map_scale, detail=detail, pasted=pasted, device=device,
        expression=render.expression, extra_refs=list(face.extra) or None,
        rest_gap=0.0 if render.rest_lips == "closed" else 1.0,
    )  # fmt: skip
