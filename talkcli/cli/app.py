"""The ``talk`` command. Commands parse flags, build settings, call the library, show events.

Each command lives in its own module and registers itself on the shared app
(``talkcli.cli.common``); importing them here is what makes them exist.
"""

from __future__ import annotations

import os
import signal
import sys

from talkcli.cli import batch_cmd, config_cmd, cues_cmd, doctor_cmd, eval_cmd, inspect_cmd, models_cmd, render_cmd  # noqa: F401  (register commands)
from talkcli.cli.common import app, err
from talkcli.errors import ExitCode, Terminated

__all__ = ["app", "main"]


def _fill_closed_std_fds() -> None:
    """Give each standard stream the process was started without (``2>&-``) a stand-in.

    Python sets ``sys.stderr`` (or stdout, stdin) to None then, which breaks
    every write, and the next file opened would take the free descriptor, so
    a native library's log line or a child's output would land in it. stdin
    and stderr get /dev/null: the command runs as usual, its messages are just
    not seen. stdout gets a pipe whose reading end is already closed: writing
    there fails as it does when a reader quits early, so ``-o -`` ends with
    exit 5 (OUTPUT) instead of the video vanishing into /dev/null.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        if fd == 1:
            read_end, stand_in = os.pipe()
            os.close(read_end)
        else:
            stand_in = os.open(os.devnull, os.O_RDWR)
        if stand_in != fd:
            os.dup2(stand_in, fd)
            os.close(stand_in)
    if sys.stdout is None:
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)


def _raise_terminated(signum, frame) -> None:
    """SIGTERM handler: unwind like Ctrl-C (temp folders removed, ffmpeg killed, job resumable).

    Only the first SIGTERM raises; a second one during the cleanup is ignored
    so the cleanup can finish (SIGKILL remains for a process that must die now).
    """
    signal.signal(signal.SIGTERM, lambda *_: None)
    raise Terminated()


def _silence_native_logs() -> None:
    """Send file descriptor 2 to /dev/null for native libraries, keep Python's stderr.

    mediapipe's graph threads log TFLite notices straight to fd 2 at moments no
    context manager can bracket. Python's ``sys.stderr`` (progress, errors,
    tracebacks) moves to a duplicate of the real stderr first.
    ``TALK_NATIVE_LOGS=1`` keeps native logs, for debugging.
    """
    if os.environ.get("TALK_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
        err.file = sys.stderr
    except OSError:
        pass


def main() -> None:
    """Console-script entry point."""
    _fill_closed_std_fds()
    _silence_native_logs()
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        app()
    except KeyboardInterrupt:  # outside a command (while parsing, importing)
        err.print("[yellow]interrupted[/]")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Terminated:  # outside a command; Typer does not catch it as it catches KeyboardInterrupt
        err.print("[yellow]terminated[/]")
        sys.exit(int(ExitCode.TERMINATED))
