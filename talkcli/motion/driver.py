"""Drivers: speech -> motion blocks, the first half of the engine seam.

A ``Driver`` turns the decoded speech into a ``MotionStream``: motion blocks
on demand, block by block, with a state that the job manifest records at each
segment's end and hands back on resume. ``talkcli.engines`` is the one place
that chooses a driver from the settings (for render, cues, batch and eval).

The drivers here share the rule-based motion generator
(``talkcli.motion.generator``) and differ in where the phones come from:
pocketsphinx (recognised, or aligned to a transcript) for English, the
language-agnostic acoustic pseudo-phones (``talkcli.audio.acoustic``) for
every other language. A learned driver would implement the same protocol.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from talkcli.audio.phonemes import PhoneBatch
from talkcli.audio.plan import BlockPlan
from talkcli.config.settings import Settings
from talkcli.motion.generator import MotionBlock, MotionConfig, MotionGenerator, MotionState
from talkcli.timing import Clock


class MotionStream(Protocol):
    """Motion blocks of one render, in order, from a given start state."""

    def next_block(self, index: int) -> MotionBlock:
        """Block ``index`` of the plan (blocks are asked for in order)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state after the last block returned: what a resumed job starts from."""


class Driver(Protocol):
    """Speech -> motion. ``name`` says which engine it is (recorded with the render)."""

    name: str

    def start(self, plan: BlockPlan, saved: dict[str, Any] | None, clock: Clock) -> MotionStream:
        """Motion for ``plan``'s blocks from ``saved`` (a ``state_dict``; None: the start)."""

    @property
    def aligned(self) -> bool:
        """True when every stretch of speech was timed from its transcript."""

    def unaligned_note(self) -> str | None:
        """With a transcript, what to tell the user about stretches it could not time; else None."""


class PhoneDriver:
    """Phones chunk by chunk -> rule-based motion (``MotionGenerator``).

    ``phones(start_s)`` yields the ``PhoneBatch``es from ``start_s`` seconds on. Time spent
    finding phones is charged to the clock's "phones", the rest of the motion to "motion".
    """

    def __init__(self, name: str, samples: np.ndarray, settings: Settings,
                 phones: Callable[[float], Iterator[PhoneBatch]], uses_transcript: bool) -> None:
        self.name = name
        self._samples = samples
        self._settings = settings
        self._phones = phones
        self.uses_transcript = uses_transcript
        self._aligned: list[bool] = []
        self._unaligned: list[tuple[float, float]] = []  # stretches (s) whose batch was not aligned

    @property
    def aligned(self) -> bool:
        return bool(self._aligned) and all(self._aligned)

    @property
    def partly_unaligned(self) -> bool:
        """A transcript was given and alignment failed for some of the audio."""
        return self.uses_transcript and not all(self._aligned)

    def unaligned_note(self) -> str | None:
        """What to tell the user when a transcript was given and some stretches were not aligned."""
        if not self.partly_unaligned:
            return None
        spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in self._unaligned[:6]) + (", ..." if len(self._unaligned) > 6 else "")
        total = sum(b - a for a, b in self._unaligned)
        return (f"forced alignment to the transcript failed for {total:.1f} s of the audio ({spans}); "
                "there the mouth follows the audio instead")  # fmt: skip

    def phone_batches(self, start_s: float = 0.0) -> Iterator[PhoneBatch]:
        """The phones themselves (``talk cues``), recording whether each batch was aligned."""
        previous_end = start_s
        for batch in self._phones(start_s):
            self._aligned.append(batch.aligned)
            if not batch.aligned:
                self._unaligned.append((previous_end, batch.end_s))
            previous_end = batch.end_s
            yield batch

    def start(self, plan: BlockPlan, saved: dict[str, Any] | None, clock: Clock) -> MotionStream:
        from talkcli.motion.prosody import chunk_prosody

        state = MotionState(**saved) if saved is not None else None
        start_s = state.phones_known_until_s if state is not None else 0.0
        motion = self._settings.motion
        generator = MotionGenerator(
            plan, clock.timed(self.phone_batches(start_s), "phones"), MotionConfig.from_settings(motion), state,
            prosody=chunk_prosody(self._samples, plan) if motion.head_motion > 0 else None,
        )  # fmt: skip
        return _GeneratorStream(generator)


class _GeneratorStream:
    def __init__(self, generator: MotionGenerator) -> None:
        self._generator = generator

    def next_block(self, index: int) -> MotionBlock:
        return self._generator.next_block(index)

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self._generator.state)
