"""talk config show."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from talkcli.cli.common import config_app, guarded, out


@config_app.command("show")
def config_show(
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset to layer over the defaults."),
    config: Optional[Path] = typer.Option(None, "--config", help="Job file (TOML) layered over the preset."),
    set_: list[str] = typer.Option([], "--set", help="Settings as flags, e.g. --set mux.crf=23."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Print every setting with the layer it came from (default < preset < job file < flag)."""
    from rich.table import Table

    with guarded(traceback):
        from talkcli.config.settings import available_presets, load_settings, parse_assignment

        settings = load_settings(preset, dict(parse_assignment(t) for t in set_), job_file=config)
        table = Table(title=f"preset: {settings.preset}  (available: {', '.join(available_presets())})")
        table.add_column("setting")
        table.add_column("value")
        table.add_column("source")
        for key, value, source in settings.items():
            table.add_row(key, repr(value), source)
        out.print(table)
