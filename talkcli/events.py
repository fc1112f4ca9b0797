"""Events the library hands to the caller's ``on_event`` callback.

The library never prints. A front end (the CLI's rich console, a JSON-lines
writer, a test) receives these and decides what to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class StageStarted:
    """A pipeline stage began. ``total`` is in ``unit`` (frames, seconds...) or None if unknown."""

    stage: str
    total: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class StageProgress:
    """``done`` of ``total`` units of a stage are finished (cumulative, not a delta)."""

    stage: str
    done: float
    total: float | None = None


@dataclass(frozen=True)
class StageFinished:
    """A stage ended after ``seconds`` of wall time."""

    stage: str
    seconds: float


@dataclass(frozen=True)
class Notice:
    """Something the user should know: ``level`` is "info" or "warning"."""

    level: str
    message: str


Event = Union[StageStarted, StageProgress, StageFinished, Notice]
EventCallback = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """The default callback: drop every event."""
