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

STAGE_LABELS = {"face": "Face", "audio": "Audio", "render": "Render + encode"}


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

    def __exit__(self, *exc) -> None:
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
