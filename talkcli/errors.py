"""Typed errors and the exit codes the CLI maps them to.

Every failure the user can cause or fix is a ``TalkError`` carrying a one-line
message, a hint and an exit code. The CLI turns exceptions into exit codes in
one place (``talkcli.cli.app``); nothing else calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Stable exit codes of the ``talk`` command (documented in the README)."""

    OK = 0
    FAILURE = 1  # an unexpected error: a bug; run with --traceback and report it
    USAGE = 2  # bad flags, preset or configuration
    PARTIAL = 3  # a batch finished but some items failed
    INPUT = 4  # an input file is missing, unreadable or unusable (no face, no audio)
    OUTPUT = 5  # the output cannot be written (exists, no directory, not writable, disk full)
    ENVIRONMENT = 6  # a tool or model is missing (ffmpeg, mediapipe model, CUDA)
    ENCODE = 7  # ffmpeg failed while decoding or encoding
    BUSY = 8  # another process is rendering the same job
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + 15), e.g. from kill, systemd, docker stop or a job scheduler


class Terminated(BaseException):
    """SIGTERM arrived: the CLI's handler raises this so the stack unwinds as on Ctrl-C.

    Context managers run (temp folders removed, ffmpeg killed, the job left
    resumable). A BaseException like KeyboardInterrupt, so ``except Exception``
    does not swallow it, but not a KeyboardInterrupt, which Typer would turn
    into exit 130 outside a command.
    """


class TalkError(Exception):
    """Base of all expected failures: a message, a hint and an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(TalkError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A preset, config value or flag combination is invalid."""


class InputError(TalkError):
    exit_code = ExitCode.INPUT


class ImageError(InputError):
    """The reference photo cannot be read."""


class NoFaceError(InputError):
    """No usable face was found in the reference photo."""


class AudioError(InputError):
    """The audio cannot be decoded or holds no samples."""


class OutputError(TalkError):
    exit_code = ExitCode.OUTPUT


class EnvironmentProblem(TalkError):
    """A binary, model file or device the run needs is not available."""

    exit_code = ExitCode.ENVIRONMENT


class FfmpegError(TalkError):
    """ffmpeg exited with an error; the message carries its last stderr line."""

    exit_code = ExitCode.ENCODE
