"""Shows library events on the terminal: one rich progress bar per stage, fps and ETA on the render."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from talkcli.events import Event, Notice, StageFinished, StageProgress, StageStarted

STAGE_LABELS = {"face": "Face", "audio": "Audio", "render": "Render + encode", "enhance": "Enhance (GFPGAN)", "mux": "Join + mux"}


class FpsColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f} fps" if speed else "   -- fps", style="progress.data.speed")


class ProgressDisplay:
    """A callback for ``talkcli.api.render`` that draws progress on stderr."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            FpsColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=quiet,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "ProgressDisplay":
        self.progress.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            # Leave no spinner frozen mid-stage; the error line that follows says what happened.
            for task in self.progress.tasks:
                if not task.finished:
                    self.progress.update(task.id, visible=False)
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            label = STAGE_LABELS.get(event.stage, event.stage)
            self.tasks[event.stage] = self.progress.add_task(label, total=event.total)
        elif isinstance(event, StageProgress):
            task = self.tasks.get(event.stage)
            if task is not None:
                self.progress.update(task, completed=event.done, total=event.total)
        elif isinstance(event, StageFinished):
            task = self.tasks.get(event.stage)
            if task is not None:
                total = self.progress.tasks[task].total
                if total is None:
                    self.progress.update(task, total=1, completed=1)
                else:
                    self.progress.update(task, completed=total)
        elif isinstance(event, Notice) and (event.level == "warning" or not self.quiet):
            style = "yellow" if event.level == "warning" else "dim"
            self.progress.console.print(f"[{style}]{event.level}:[/] {event.message}", highlight=False)


class JsonProgress:
    """``--progress json``: one JSON object per line on stderr, for scripts.

    Keys: ``event`` (start, progress, finish, notice), ``stage``, ``frame``,
    ``total``, ``fps``, ``eta`` (seconds), ``item`` (batch item or null),
    ``level`` and ``message`` for notices.
    """

    def __init__(self, stream, item: str | None = None) -> None:
        import time

        self.stream = stream
        self.item = item
        self._clock = time.perf_counter
        self._started: dict[str, tuple[float, float]] = {}

    def __enter__(self) -> "JsonProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.stream.flush()

    def _emit(self, **fields) -> None:
        import json

        fields["item"] = self.item
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self._started[event.stage] = (self._clock(), 0.0)
            self._emit(event="start", stage=event.stage, frame=0, total=event.total, fps=None, eta=None)
        elif isinstance(event, StageProgress):
            t0, first = self._started.get(event.stage, (self._clock(), 0.0))
            if event.done and not first:
                # The first report may start mid-way (a resumed job): measure speed from there.
                self._started[event.stage] = (self._clock(), float(event.done))
                t0, first = self._started[event.stage]
            elapsed = self._clock() - t0
            fps = (event.done - first) / elapsed if elapsed > 0 and event.done > first else None
            eta = (event.total - event.done) / fps if fps and event.total is not None else None
            self._emit(event="progress", stage=event.stage, frame=event.done, total=event.total,
                       fps=round(fps, 2) if fps else None, eta=round(eta, 2) if eta is not None else None)
        elif isinstance(event, StageFinished):
            self._emit(event="finish", stage=event.stage, seconds=round(event.seconds, 3))
        elif isinstance(event, Notice):
            self._emit(event="notice", level=event.level, message=event.message)
