"""talk config show."""

from __future__ import annotations

from typing import Optional

import typer

from talkcli.cli.common import config_app, guarded, out


@config_app.command("show")
def config_show(
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset to layer over the defaults."),
    traceback: bool = typer.Option(False, "--traceback", help="Show the full stack trace on errors."),
) -> None:
    """Print every setting with the layer it came from (default < preset < flag)."""
    from rich.table import Table

    with guarded(traceback):
        from talkcli.config.settings import available_presets, load_settings

        settings = load_settings(preset)
        table = Table(title=f"preset: {settings.preset}  (available: {', '.join(available_presets())})")
        table.add_column("setting")
        table.add_column("value")
        table.add_column("source")
        for key, value, source in settings.items():
            table.add_row(key, repr(value), source)
        out.print(table)
