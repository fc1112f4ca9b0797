"""The one place that locates and runs ffmpeg.

Every ffmpeg invocation in talk goes through this module: the binary is found
once (``--ffmpeg``, then ``TALK_FFMPEG``, then imageio-ffmpeg's bundled static
build), commands are logged quoted at debug level, and failures raise
``FfmpegError`` carrying ffmpeg's last stderr line.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from talkcli.errors import EnvironmentProblem, FfmpegError

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def find_ffmpeg(explicit: str | None = None) -> str:
    """Path of the ffmpeg binary to use.

    Order: ``explicit`` (the ``--ffmpeg`` flag), the ``TALK_FFMPEG`` environment
    variable, then the static build shipped in the imageio-ffmpeg wheel.
    """
    candidate = explicit or os.environ.get("TALK_FFMPEG")
    if candidate:
        resolved = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if not resolved or not os.access(resolved, os.X_OK):
            raise EnvironmentProblem(
                f"ffmpeg not found at {candidate!r}",
                hint="pass --ffmpeg PATH or set TALK_FFMPEG to an executable ffmpeg, or unset it to use the bundled one",
            )
        return resolved
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
        raise EnvironmentProblem(
            f"no ffmpeg binary available ({exc})",
            hint="reinstall with `pip install imageio-ffmpeg` or pass --ffmpeg PATH",
        ) from exc


def last_stderr_line(stderr: bytes | str) -> str:
    """The last non-empty line ffmpeg wrote to stderr (its error, usually)."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def quoted(cmd: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in cmd)


def run_ffmpeg(args: list[str], ffmpeg: str | None = None, *, what: str = "ffmpeg") -> subprocess.CompletedProcess:
    """Run ffmpeg to completion with ``args`` (without the binary); raise FfmpegError on failure."""
    cmd = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", *args]
    log.debug("running %s", quoted(cmd))
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise FfmpegError(f"{what} failed: {last_stderr_line(proc.stderr)}", hint="run with --traceback for ffmpeg's full command")
    return proc
