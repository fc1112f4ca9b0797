"""What every command shares: the Typer app, the consoles, and the one error handler."""

from __future__ import annotations

import json
import logging
import os
import traceback as tb
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from talkcli import __version__
from talkcli.errors import ExitCode, OutputError, TalkError, Terminated

app = typer.Typer(
    name="talk",
    help="Lip-synced talking-head videos from a portrait photo and a speech recording.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect settings and presets.", no_args_is_help=True)
app.add_typer(config_app, name="config")

_STDOUT_CLOSED = "standard output is closed: nothing reads it"


class _StdoutConsole(Console):
    """Rich turns a broken pipe into a silent exit 1; here it is an OutputError (exit 5) with a message."""

    def on_broken_pipe(self) -> None:
        _discard_stdout()
        raise OutputError(_STDOUT_CLOSED)


err = Console(stderr=True, highlight=False)
out = _StdoutConsole(highlight=False)


@contextmanager
def guarded(show_traceback: bool = False, json_errors: bool = False):
    """The one place exceptions become exit codes and one-line messages.

    With ``json_errors`` (``--progress json``) the message is a JSON line on
    stderr like the progress events: ``{"event": "error", "message": ...,
    "hint": ... or null, "exit_code": N, "item": null}``, so a script reading
    that stream learns how the command ended. ``--traceback`` stays plain text.
    """

    def fail(code: ExitCode, message: str, hint: str | None = None, kind: str = "error") -> typer.Exit:
        if json_errors:
            text = message if kind == "error" else f"{kind}: {message}"
            line = {"event": "error", "message": text, "hint": hint, "exit_code": int(code), "item": None}
            err.file.write(json.dumps(line) + "\n")
            err.file.flush()
        else:
            color = "red" if kind == "error" else "yellow"
            text = message + (f" (hint: {hint})" if hint else "")  # may hold brackets: pip install 'talkcli[ray]', a path
            err.print(f"[{color}]{kind}:[/] {escape(text)}", soft_wrap=True)
        return typer.Exit(int(code))

    try:
        yield
    except TalkError as exc:
        if show_traceback:
            err.print(tb.format_exc(), markup=False)
        raise fail(exc.exit_code, exc.message, exc.hint) from None
    except Terminated:
        raise fail(ExitCode.TERMINATED, _NOTHING_WRITTEN, kind="terminated") from None
    except KeyboardInterrupt:
        raise fail(ExitCode.INTERRUPTED, _NOTHING_WRITTEN, kind="interrupted") from None
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:  # printing to a stdout whose reader quit (`| head`) or that was closed (`>&-`)
        _discard_stdout()
        raise fail(ExitCode.OUTPUT, _STDOUT_CLOSED) from None
    except Exception as exc:  # a bug: say so, keep it to one line unless asked
        if show_traceback:
            err.print(tb.format_exc(), markup=False)
        raise fail(ExitCode.FAILURE, f"unexpected {type(exc).__name__}: {exc}", "rerun with --traceback and report it") from None


_NOTHING_WRITTEN = "nothing was written at the output path; run the same command again to resume"


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's last flush of stdout cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def _version(value: bool) -> None:
    if value:
        with guarded():
            out.print(f"talk {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages (ffmpeg commands) to stderr."),
) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
