"""Join finished video segments and mux the original audio into the final file, atomically."""

from __future__ import annotations

import logging
import os
import secrets
import select
import signal
import subprocess
import sys
from pathlib import Path

from talkcli.errors import OutputError
from talkcli.files import fsync_dir
from talkcli.mux.ffmpeg import error_line, ffmpeg_failure, run_ffmpeg

log = logging.getLogger(__name__)

_READER_GONE_HINT = "send the video to a reader that takes all of it, e.g. -o - > out.mp4, or give a file name"


def _reader_gone(fd: int) -> bool:
    """True when ``fd`` is a pipe or socket whose reading end is closed (poll reports POLLERR/POLLHUP)."""
    try:
        poller = select.poll()
        poller.register(fd, 0)  # no events asked for: only error conditions come back
        return any(events & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def check_stdout_output() -> None:
    """Raise OutputError when standard output cannot take a video: closed, or nobody reads it."""
    if sys.stdout is None or _reader_gone(sys.stdout.fileno()):
        raise OutputError("standard output is closed: nothing reads the video", hint=_READER_GONE_HINT)


def _broken_pipe(proc) -> bool:
    """Did ffmpeg fail because the reader of standard output went away (EPIPE or SIGPIPE)?"""
    if proc.returncode == -signal.SIGPIPE or b"Broken pipe" in proc.stderr:
        return True
    return _reader_gone(sys.stdout.fileno())


def _ffconcat_line(path: Path) -> str:
    escaped = str(path.resolve()).replace("'", "'\\''")
    return f"file '{escaped}'\n"


def join_segments(
    segments: list[Path],
    audio_path: Path,
    out: Path | str,
    *,
    list_file: Path,
    audio_bitrate: str = "160k",
    metadata: dict[str, str] | None = None,
    ffmpeg: str | None = None,
) -> None:
    """Concatenate H.264 ``segments`` (stream copy) and add ``audio_path`` as AAC.

    ``out`` "-" streams a fragmented MP4 to stdout; otherwise the file is
    written to a hidden temp name beside ``out``, fsynced and renamed.
    """
    list_file.write_text("ffconcat version 1.0\n" + "".join(_ffconcat_line(p) for p in segments), encoding="utf-8")
    args = ["-nostats", "-loglevel", "error",
            "-f", "concat", "-safe", "0", "-i", str(list_file), "-i", str(audio_path),
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", audio_bitrate]  # fmt: skip
    for key, value in (metadata or {}).items():
        args += ["-metadata", f"{key}={value}"]
    to_stdout = str(out) == "-"
    if to_stdout:
        args += ["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", "pipe:1"]
        tmp = None
    else:
        out = Path(out)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.part{out.suffix or '.mp4'}")
        args += ["-movflags", "+faststart", "-f", "mp4", "-n", str(tmp)]
    if to_stdout:
        check_stdout_output()  # before ffmpeg starts: its own error would read as an encoding failure
        sys.stdout.flush()
    try:
        stdout = sys.stdout.buffer if to_stdout else subprocess.DEVNULL
        proc = run_ffmpeg(args, ffmpeg, stdout=stdout, check=False)
        if proc.returncode != 0 and to_stdout and _broken_pipe(proc):
            raise OutputError("standard output was closed by the reader", hint=_READER_GONE_HINT)
        if proc.returncode != 0:
            raise ffmpeg_failure(f"joining segments into {out} failed", error_line(proc.stderr), hint="run with --traceback; the job can be resumed")
        if tmp is not None:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, out)
            fsync_dir(out.parent)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise

