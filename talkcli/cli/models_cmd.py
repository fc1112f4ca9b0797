"""talk models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import app, err, guarded, out
from talkcli.errors import ExitCode

STATE_STYLE = {"ok": "[green]ok", "missing": "[yellow]missing", "bad": "[red]bad", "unchecked": "[cyan]found"}


@app.command()
def models(
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Folder searched first for user-supplied model files (or set TALK_MODELS)."),
    rehash: bool = typer.Option(False, "--rehash", help="Hash every file again instead of trusting the cache of verified files."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """List every model file talk can use: where it was found, whether its checksum matches, where to put a missing one.

    Exits 6 when a wheel-shipped file is missing or any file present fails its
    check; an optional user-supplied file that is simply absent is not an error.
    """
    from rich.table import Table

    with guarded(traceback):
        from talkcli.models.registry import (
            check_models,
            load_registry,
            target_folder,
            user_cache_dir,
        )

        entries = load_registry()
        statuses = check_models(include_user=True, models_dir=models_dir, use_cache=not rehash)
        table = Table(show_header=True, header_style="bold")
        table.add_column("model", no_wrap=True)
        table.add_column("status", no_wrap=True)
        for column, width in (("file", 12), ("found in", 10), ("used by", 8), ("licence", None)):
            table.add_column(column, overflow="fold", min_width=width)
        failures = 0
        for s in statuses:
            package = entries[s.name].package
            if s.source == "package":  # the wheel's own folder: only which wheel is of interest
                where = f"wheel {package}" if s.path is not None else f"(ships in {package})"
            else:
                where = f"{s.found_in}: {s.path.parent}" if s.path is not None else "(you supply it)"
            table.add_row(s.name, STATE_STYLE.get(s.state, s.state), s.file, where, s.stage, s.licence)
            failures += s.state == "bad" or (s.state == "missing" and s.source == "package")
        out.print(table)
        folder, label = target_folder(models_dir)
        out.print(f"User-supplied files are looked for in: --models-dir, $TALK_MODELS, then {user_cache_dir()}. "
                  f"Put missing ones in {folder} ({label}). Nothing is downloaded.", soft_wrap=True)
        for s in statuses:
            if not s.ok:
                level = "[yellow]note:[/]" if s.state == "missing" and s.source == "user" else "[red]problem:[/]"
                err.print(f"{level} {s.name}: {s.problem}", soft_wrap=True, highlight=False)
        if failures:
            err.print(f"[red]error:[/] {failures} model file(s) unusable (hint: see above)")
            raise typer.Exit(int(ExitCode.ENVIRONMENT))
