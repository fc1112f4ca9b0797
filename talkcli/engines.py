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

    English: pocketsphinx phones, recognised or aligned to ``transcript``. Any other language:
    with a transcript, eSpeak NG's pronunciations aligned by pocketsphinx (the ``languages``
    extra), the acoustic driver where a stretch cannot be aligned; without one, the acoustic
    driver. A transcript that does not fit the language is a UsageError, or ``warn(message)``
    where it only looks doubtful.
    """
    from talkcli.audio.phonemes import phone_batches

    lang, max_chunk_s = settings.audio.lang, settings.audio.max_chunk_s
    if transcript is not None:
        check_transcript(settings, transcript)
        script, fallback = _transcript_script(lang, transcript, models, warn)
        recognizer = models.recognizer
        return PhoneDriver(
            "transcript", samples, settings,
            lambda start_s: phone_batches(samples, recognizer, None, max_chunk_s, start_s, script=script, fallback=fallback),
            uses_transcript=True,
        )  # fmt: skip
    if is_english(lang):
        recognizer = models.recognizer
        return PhoneDriver("phones", samples, settings, lambda start_s: phone_batches(samples, recognizer, None, max_chunk_s, start_s),
                           uses_transcript=False)  # fmt: skip
    from talkcli.audio.acoustic import acoustic_batches

    return PhoneDriver("acoustic", samples, settings, lambda start_s: acoustic_batches(samples, max_chunk_s, start_s=start_s),
                       uses_transcript=False)  # fmt: skip


def check_transcript(settings: Settings, transcript: str | None) -> None:
    """Fail before any work where ``transcript`` cannot drive a render in ``audio.lang``: written in
    another script, not English under ``--lang en``, or a language eSpeak NG lacks (or the
    ``languages`` extra is not installed)."""
    if transcript is None:
        return
    from talkcli.audio.multilingual import check_english, check_script, voice_for

    lang = settings.audio.lang
    check_script(transcript, lang)
    if is_english(lang):
        check_english(transcript)
    else:
        voice_for(lang)


def _transcript_script(lang: str, transcript: str, models: Models, warn: Callable[[str], None]):
    """(words to align, the fallback for stretches that cannot be) of ``transcript`` in ``lang``."""
    from talkcli.audio.multilingual import looks_english

    if is_english(lang):
        from talkcli.audio.phonemes import english_script

        return english_script(models.recognizer, transcript), None
    from talkcli.audio.acoustic import stretch_phones
    from talkcli.audio.multilingual import Lexicon

    lexicon = Lexicon(lang)
    script = lexicon.script(transcript)
    for note in lexicon.notes(transcript, script):
        warn(note)
    if looks_english(transcript):
        warn(f"the transcript reads as English, but --lang is {lang}: its words are read as {lang} (pass --lang en for English)")
    return script, stretch_phones


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
