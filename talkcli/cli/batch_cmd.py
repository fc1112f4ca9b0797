"""talk batch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded
from talkcli.errors import ExitCode, UsageError

MAX_WORKERS = 64  # processes; each loads its own models


@app.command()
def batch(
    source: Path = typer.Argument(..., help="A folder of audio files, or a .csv / .jsonl job list (ref, audio, out, options)."),
    ref: Optional[Path] = typer.Option(None, "--ref", help="The photo for every item of an audio folder (or list rows without ref)."),
    refs: Optional[Path] = typer.Option(None, "--refs", help="A folder of photos paired with the audio files by file stem."),
    out_dir: Optional[Path] = typer.Option(None, "-o", "--out-dir", help="Where outputs go for an audio folder. [default: beside the audio]"),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Render this many items at once (1..64), each in its own process. [default: 1; with --ray: the cluster's CPUs]"),
    ray: Optional[str] = typer.Option(
        None, "--ray", metavar="ADDRESS",
        help="Render on a Ray cluster: local (start one on this machine for the run), auto (the cluster this machine joined "
             "with `ray start`) or ray://HOST:PORT. Inputs, outputs and job folders must be on storage every node sees, "
             "under the same paths. Needs: pip install 'talkcli\\[ray]'.",
    ),  # fmt: skip
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset for every item."),
    config: Optional[Path] = typer.Option(None, "--config", help="Job file (TOML) for every item; per-item options win over it."),
    set_: list[str] = typer.Option([], "--set", help="Any setting, e.g. --set mux.crf=23 (wins over everything)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of every item's speech (es, fr, ja, ...), as render --lang; the same as --set audio.lang=... (for a list of mixed languages, give each row an audio.lang column instead). [default: en]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Render items again even when their output exists."),
    progress: str = typer.Option("bar", "--progress", help="bar (live table), json (JSON lines on stderr) or none."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary and failures."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Render many clips; models load once; one failure never stops the rest. Exit code 3 if any item failed."""
    from rich.live import Live
    from rich.markup import escape
    from rich.table import Table

    with guarded(traceback, json_errors=progress == "json"):
        from talkcli.config.settings import load_settings, parse_assignment
        from talkcli.events import StageProgress
        from talkcli.jobs.batch import plan_batch, run_batch

        if ray is not None:
            from talkcli.jobs.ray_cluster import check_address, import_ray

            check_address(ray)
            import_ray()  # not installed: exit 6 before anything else
        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            raise UsageError(f"--workers must be 1 to {MAX_WORKERS}, got {workers}", hint="1 renders one item at a time; each worker loads its own models")
        flags = {"audio.lang": lang} if lang else {}
        flags |= dict(parse_assignment(text) for text in set_)
        load_settings(preset, flags, job_file=config)  # fail fast on bad settings, before any item runs
        items = plan_batch(source, ref, refs, out_dir)

        def table() -> Table:
            on = f"{workers or 'all'} Ray worker(s) ({ray})" if ray else f"{workers or 1} worker(s)"
            t = Table(title=f"talk batch: {len(items)} item(s), {on}")
            for col in ("item", "status", "frames", "output / message"):
                t.add_column(col, overflow="fold")
            style = {"done": "green", "failed": "red", "skipped": "dim", "running": "cyan", "queued": "yellow"}
            for it in items:
                frames = f"{it.frames_done}/{it.frames_total}" if it.frames_total else ""
                t.add_row(escape(it.name), f"[{style.get(it.status, '')}]{it.status}", frames, escape(it.message or str(it.out)))
            return t

        json_mode = progress == "json"
        live = Live(table(), console=err, refresh_per_second=4, transient=False) if progress == "bar" and not quiet else None

        def emit(**fields) -> None:
            sys.stderr.write(json.dumps(fields) + "\n")
            sys.stderr.flush()

        def on_item(i, item) -> None:
            if json_mode:
                emit(event="item", item=item.name, status=item.status, message=item.message)
            if live:
                live.update(table())

        def on_event(i, event) -> None:
            if isinstance(event, StageProgress) and event.stage == "render":
                items[i].frames_done, items[i].frames_total = int(event.done), int(event.total or 0)
                if json_mode:
                    emit(event="progress", stage="render", frame=items[i].frames_done, total=items[i].frames_total, item=items[i].name)
                if live:
                    live.update(table())

        if live:
            live.start()
        try:
            if ray is not None:
                from talkcli.jobs.ray_batch import run_batch_ray

                run_batch_ray(items, address=ray, preset=preset, flags=flags, job_file=config, overwrite=overwrite,
                              workers=workers, on_item=on_item, on_event=on_event)  # fmt: skip
            else:
                run_batch(items, preset=preset, flags=flags, job_file=config, overwrite=overwrite, workers=workers or 1,
                          on_item=on_item, on_event=on_event)  # fmt: skip
        finally:
            if live:
                live.stop()
        counts = {s: sum(it.status == s for it in items) for s in ("done", "skipped", "failed")}
        for it in items:
            if it.status == "failed":
                err.print(f"[red]failed:[/] {escape(it.name)}: {escape(it.message)}", soft_wrap=True)
        err.print(f"batch: {counts['done']} rendered, {counts['skipped']} skipped, {counts['failed']} failed")
        if counts["failed"]:
            raise typer.Exit(int(ExitCode.PARTIAL))
