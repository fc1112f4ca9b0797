"""Wall time per named stage of a render, for ``RenderResult.stage_ms_per_frame``."""

from __future__ import annotations

import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Clock:
    """Accumulates wall seconds per named stage."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def timed(self, iterable: Iterable[T], name: str) -> Iterator[T]:
        """Yield from ``iterable``, charging the time spent inside it to ``name``."""
        it = iter(iterable)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.add(name, time.perf_counter() - t)
                return
            self.add(name, time.perf_counter() - t)
            yield item
