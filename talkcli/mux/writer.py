"""Stream RGB frames into ffmpeg as they are produced and mux the audio.

The video is never held whole in memory: each frame goes down ffmpeg's stdin
as soon as it is written. ffmpeg writes to a hidden temp file beside the
output, which is renamed over ``out_path`` only after ffmpeg exited 0, so a
failed or interrupted render never leaves a half-written file behind and never
destroys an older file at that path.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import time
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from talkcli.errors import AudioError, FfmpegError, OutputError
from talkcli.files import fsync_dir, same_file
from talkcli.mux.ffmpeg import FfmpegProcess, ffmpeg_failure, StderrTail, find_ffmpeg, start_ffmpeg

log = logging.getLogger(__name__)

# Containers that take ``-movflags +faststart`` (moov atom moved to the front so
# a browser can start playing before the whole file has arrived).
_MOV_SUFFIXES = {".mp4", ".m4v", ".mov"}

# RGB -> YUV with the BT.709 matrix, limited range, and tag the stream so:
# players assume BT.709 for untagged video while swscale's default is BT.601,
# which would shift skin tones slightly.
_COLOR_FILTER = (
    "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
    "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
)


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def check_output_path(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Raise OutputError unless ``out`` can be written: its directory exists and is
    writable, it is not a directory, not one of ``inputs``, and not an existing
    file (unless ``overwrite``)."""
    out = Path(out)
    for src in inputs:
        if src is not None and same_file(out, Path(src)):
            raise OutputError(f"output {out} is also an input ({src})", hint="choose a different output path (-o)")
    parent = out.parent
    if not parent.is_dir():
        raise OutputError(f"output directory {parent} does not exist", hint=f"create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {parent} is not writable", hint="choose another output path (-o)")
    if out.is_dir():
        raise OutputError(f"output {out} is a directory", hint="give a file name such as out.mp4")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} exists; pass --overwrite", hint="or choose another output path (-o)")


class VideoWriter:
    """Encode ``(H, W, 3) uint8`` RGB frames to H.264/AAC in ``out_path`` as they arrive.

    Use as a context manager::

        with VideoWriter(out, 512, 512, Fraction(25), audio) as writer:
            for block in blocks:
                writer.write(block)  # (H, W, 3) or (N, H, W, 3) uint8 RGB

    On leaving the block normally the file is finished and renamed into place;
    on any exception (KeyboardInterrupt included) ffmpeg is killed and the temp
    file removed. The caller writes ``ceil(audio_seconds * fps)`` frames, so the
    video outlasts the audio by less than one frame; nothing is trimmed.
    """

    def __init__(
        self,
        out_path: Path,
        width: int,
        height: int,
        fps: Fraction,
        audio_path: Path | None,
        *,
        ffmpeg: str | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        x264_params: str = "",
        audio_bitrate: str = "160k",
        threads: int | None = None,
        overwrite: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> None:
        if int(width) != width or int(height) != height or width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive integers, got {width}x{height}")
        if width % 2 or height % 2:
            raise ValueError(f"frame size must be even for yuv420p, got {width}x{height}")
        fps = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.out_path = Path(out_path)
        self.width, self.height, self.fps = int(width), int(height), fps
        self.audio_path = Path(audio_path) if audio_path is not None else None
        self.crf, self.preset, self.audio_bitrate, self.threads = crf, preset, audio_bitrate, threads
        self.x264_params = x264_params  # ffmpeg's -x264-params, "key=value:key=value"; "": none
        self.overwrite = overwrite
        self.metadata = dict(metadata or {})  # container tags, e.g. {"comment": "..."}

        self.frames_written = 0
        self.first_frame_time: float | None = None  # time.perf_counter() when frame 0 went to ffmpeg
        self._proc: FfmpegProcess | None = None
        self._stderr: StderrTail | None = None
        self._tmp_path: Path | None = None
        self._done = False  # closed or aborted: nothing more may happen
        self._finished = False  # the file is in place at out_path

        self._check_paths()
        self._ffmpeg = find_ffmpeg(ffmpeg)  # EnvironmentProblem now, not after the first block

    # -- checks ---------------------------------------------------------

    def _check_paths(self) -> None:
        if self.audio_path is not None and not self.audio_path.is_file():
            raise AudioError(f"audio file {self.audio_path} does not exist")
        check_output_path(self.out_path, [self.audio_path] if self.audio_path else [], self.overwrite)

    # -- lifecycle ------------------------------------------------------

    def _command(self, tmp: Path) -> list[str]:
        args = [
            "-nostats", "-loglevel", "warning",
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{self.width}x{self.height}",
            "-r", f"{self.fps.numerator}/{self.fps.denominator}",
            "-i", "-",
        ]  # fmt: skip
        if self.audio_path is not None:
            args += ["-i", str(self.audio_path), "-map", "0:v:0", "-map", "1:a:0"]
            args += ["-c:a", "aac", "-b:a", self.audio_bitrate]
        else:
            args += ["-map", "0:v:0", "-an"]
        args += ["-vf", _COLOR_FILTER, "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        args += ["-crf", str(self.crf), "-preset", self.preset]
        if self.x264_params:
            args += ["-x264-params", self.x264_params]
        if self.threads is not None:
            args += ["-threads", str(self.threads)]
        for key, value in self.metadata.items():
            args += ["-metadata", f"{key}={value}"]
        suffix = self.out_path.suffix.lower()
        if suffix in _MOV_SUFFIXES or not suffix:
            args += ["-movflags", "+faststart"]
        if not suffix:
            args += ["-f", "mp4"]
        # -n: never clobber; the temp name is fresh, so an existing file there is not ours.
        return [*args, "-n", str(tmp)]

    def open(self) -> VideoWriter:
        """Start ffmpeg. Called by ``__enter__`` (or by the first ``write``)."""
        if self._proc is not None or self._done:
            return self
        out = self.out_path
        # The real extension stays last so ffmpeg picks the muxer from it.
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.part{out.suffix}")
        self._tmp_path = tmp
        self._proc, self._stderr = start_ffmpeg(self._command(tmp), self._ffmpeg, stdin=subprocess.PIPE)
        return self

    def write(self, frames: np.ndarray) -> None:
        """Send one ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` of uint8 RGB frames to ffmpeg."""
        if self._done:
            raise RuntimeError("VideoWriter is closed")
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {frames.dtype}")
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(
                f"expected (H, W, 3) or (N, H, W, 3) with H={self.height}, W={self.width}, got {frames.shape}"
            )
        if self._proc is None:
            self.open()
        data = np.ascontiguousarray(frames)
        if self.first_frame_time is None and len(data):
            self.first_frame_time = time.perf_counter()
        try:
            self._proc.stdin.write(memoryview(data).cast("B"))
        except (BrokenPipeError, ValueError) as exc:  # ValueError: stdin already closed
            raise self._died() from exc
        self.frames_written += len(data)

    def _died(self) -> FfmpegError:
        """ffmpeg stopped reading: wait for it and build the error from its last words."""
        try:
            rc = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            rc = self._proc.wait()
        self._stderr.join()
        return ffmpeg_failure(
            f"ffmpeg stopped while encoding {self.out_path} ({_describe_exit(rc)})",
            self._stderr.error_line(),
            hint="run with --traceback for ffmpeg's full command; check free disk space",
        )

    def close(self) -> Path:
        """Finish encoding, then move the file into place. Returns ``out_path``."""
        if self._done:
            if self._finished:
                return self.out_path
            raise RuntimeError("VideoWriter was aborted; nothing was written")
        if self._proc is None:
            self._done = True
            raise RuntimeError("no frames were written; nothing to encode")
        try:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:  # flushing the last buffered bytes into a dead ffmpeg
                pass
            rc = self._proc.wait()
            self._stderr.join()
            if rc != 0:
                raise ffmpeg_failure(
                    f"ffmpeg failed encoding {self.out_path} ({_describe_exit(rc)})",
                    self._stderr.error_line(),
                    hint="run with --traceback for ffmpeg's full command",
                )
            if self.frames_written == 0:
                raise RuntimeError("no frames were written; nothing to encode")
            # The data must be on disk before the rename makes it the user's file.
            fd = os.open(self._tmp_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if not self.overwrite and self.out_path.exists():
                raise OutputError(f"{self.out_path} appeared during the render; pass --overwrite")
            os.replace(self._tmp_path, self.out_path)
            fsync_dir(self.out_path.parent)
        except BaseException:
            self.abort()
            raise
        self._done = self._finished = True
        log.debug("wrote %s (%d frames)", self.out_path, self.frames_written)
        return self.out_path

    def abort(self) -> None:
        """Kill ffmpeg and delete the temp file; ``out_path`` is left as it was. Idempotent."""
        self._done = True
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            proc.wait()
            if self._stderr is not None:
                self._stderr.join()
        if self._tmp_path is not None:
            try:
                self._tmp_path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> VideoWriter:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
