"""Frame-exact plan: which audio samples belong to which video frame and block.

Everything here is exact integer/``Fraction`` arithmetic: a frame rate such as
30000/1001 never passes through a float, so the video is never a frame short of
the audio and the mouth never drifts from the voice over a long clip.

Units: sample counts and sample indices are at the analysis rate (16 kHz for
decoded audio); frame indices count video frames from 0; times are seconds.
Frame ``i`` starts at sample ``floor(i * sample_rate / fps)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from talkcli.errors import ConfigError

MAX_FPS = 240

FpsLike = str | float | int | Fraction


def parse_fps(value: FpsLike) -> Fraction:
    """Frame rate as an exact ``Fraction`` of frames per second.

    Accepts ``25``, ``12.5``, ``"29.97"`` (exactly 2997/100) and ``"30000/1001"``
    (NTSC). A float is read through its shortest decimal form, so ``29.97``
    becomes 2997/100, not the binary float's 33-digit fraction.
    Raises ``ConfigError`` unless 0 < fps <= 240.
    """
    if isinstance(value, Fraction):
        fps = value
    elif isinstance(value, bool) or not isinstance(value, str | numbers.Real):
        raise ConfigError(f"frame rate must be a number, got {value!r}", hint="pass e.g. --fps 25 or --fps 30000/1001")
    else:
        try:
            fps = Fraction(value.strip() if isinstance(value, str) else str(value))
        except (ValueError, ZeroDivisionError):
            raise ConfigError(
                f"invalid frame rate {value!r}", hint="pass a number or a ratio, e.g. 25, 29.97 or 30000/1001"
            ) from None
    if not 0 < fps <= MAX_FPS:
        raise ConfigError(f"frame rate {value!r} is out of range", hint=f"use a frame rate above 0 and at most {MAX_FPS}")
    return fps


def frame_count(n_samples: int, sample_rate: int, fps: FpsLike) -> int:
    """Video frames needed to cover ``n_samples`` audio samples: ceil(n_samples * fps / sample_rate).

    The video is never shorter than the audio and longer by less than one frame.
    """
    if n_samples < 0 or sample_rate <= 0:
        raise ValueError(f"need n_samples >= 0 and sample_rate > 0, got {n_samples}, {sample_rate}")
    return math.ceil(n_samples * parse_fps(fps) / sample_rate)


def samples_per_frame_exact(sample_rate: int, fps: FpsLike) -> int:
    """Audio samples per video frame when that is a whole number; ValueError otherwise.

    For features computed on a fixed per-frame hop: 16 kHz at 25 fps is exactly
    640 samples (40 ms) per frame; 16 kHz at 30 fps (533.3...) raises.
    """
    exact = Fraction(sample_rate) / parse_fps(fps)
    if exact.denominator != 1:
        raise ValueError(f"{sample_rate} Hz / {parse_fps(fps)} fps = {float(exact):.4f} samples per frame, not a whole number")
    return exact.numerator


@dataclass(frozen=True)
class Block:
    """A run of consecutive frames processed together, with its audio span.

    ``sample_start``/``sample_end`` are a half-open range of sample indices at
    the analysis rate; consecutive blocks share their boundary.
    """

    index: int
    first_frame: int
    n_frames: int
    sample_start: int
    sample_end: int

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.first_frame + self.n_frames)


@dataclass(frozen=True)
class BlockPlan:
    """How a clip of ``n_samples`` samples at ``sample_rate`` Hz splits into frames and blocks.

    ``n_frames`` is derived (``frame_count``); every block holds
    ``frames_per_block`` frames except possibly the last, which holds the rest.
    """

    n_samples: int
    sample_rate: int
    fps: Fraction
    frames_per_block: int = 4
    n_frames: int = field(init=False)

    def __post_init__(self) -> None:
        if self.n_samples <= 0:
            raise ConfigError("the audio holds no samples to plan frames for", hint="pass a non-empty speech recording")
        if self.sample_rate <= 0:
            raise ConfigError(f"sample rate must be positive, got {self.sample_rate}")
        if self.frames_per_block < 1:
            raise ConfigError(
                f"frames per block must be at least 1, got {self.frames_per_block}", hint="use a block size of 1 or more"
            )
        object.__setattr__(self, "fps", parse_fps(self.fps))
        object.__setattr__(self, "n_frames", frame_count(self.n_samples, self.sample_rate, self.fps))

    @property
    def n_blocks(self) -> int:
        return -(-self.n_frames // self.frames_per_block)

    @property
    def duration_s(self) -> float:
        """Audio duration in seconds."""
        return self.n_samples / self.sample_rate

    def frame_sample(self, i: int) -> int:
        """First sample of frame ``i``; ``frame_sample(n_frames) == n_samples`` (the end)."""
        if not 0 <= i <= self.n_frames:
            raise IndexError(f"frame {i} outside 0..{self.n_frames}")
        return min(math.floor(i * self.sample_rate / self.fps), self.n_samples)

    def frame_time(self, i: int) -> float:
        """Start of frame ``i`` in seconds (``i / fps``)."""
        if not 0 <= i <= self.n_frames:
            raise IndexError(f"frame {i} outside 0..{self.n_frames}")
        return float(i / self.fps)

    def block(self, i: int) -> Block:
        if not 0 <= i < self.n_blocks:
            raise IndexError(f"block {i} outside 0..{self.n_blocks - 1}")
        first = i * self.frames_per_block
        n = min(self.frames_per_block, self.n_frames - first)
        return Block(i, first, n, self.frame_sample(first), self.frame_sample(first + n))

    def blocks(self) -> Iterator[Block]:
        """Blocks in order, covering every frame once and samples [0, n_samples)."""
        for i in range(self.n_blocks):
            yield self.block(i)


def plan_blocks(n_samples: int, sample_rate: int, fps: FpsLike, frames_per_block: int = 4) -> BlockPlan:
    """Plan for ``n_samples`` samples at ``sample_rate`` Hz rendered at ``fps`` frames per second.

    Raises ``ConfigError`` for an empty clip, a block size below 1 or a bad fps.
    """
    return BlockPlan(n_samples, sample_rate, parse_fps(fps), frames_per_block)
