"""The ``talk`` command. Commands parse flags, build settings, call the library, show events.

Each command lives in its own module and registers itself on the shared app
(``talkcli.cli.common``); importing them here is what makes them exist.
"""

from __future__ import annotations

import sys

from talkcli.cli import config_cmd, doctor_cmd, render_cmd  # noqa: F401  (register commands)
from talkcli.cli.common import app, err
from talkcli.errors import ExitCode

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # outside a command (while parsing, importing)
        err.print("[yellow]interrupted[/]")
        sys.exit(int(ExitCode.INTERRUPTED))
