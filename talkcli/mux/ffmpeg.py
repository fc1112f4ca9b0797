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
import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from talkcli.errors import EnvironmentProblem, FfmpegError, InputError, OutputError, TalkError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


_FIX_FFMPEG = "pass --ffmpeg PATH or set TALK_FFMPEG to a working ffmpeg, or unset both to use the bundled one"


@lru_cache(maxsize=8)
def find_ffmpeg(explicit: str | None = None) -> str:
    """Path of the ffmpeg binary to use, checked to run as ffmpeg.

    Order: ``explicit`` (the ``--ffmpeg`` flag), the ``TALK_FFMPEG`` environment
    variable, then the static build shipped in the imageio-ffmpeg wheel. The
    binary must answer ``-version`` like ffmpeg; otherwise EnvironmentProblem,
    so that a broken ffmpeg is not taken for a broken input file later.
    """
    candidate = explicit or os.environ.get("TALK_FFMPEG")
    if candidate:
        resolved = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if not resolved or not os.access(resolved, os.X_OK):
            raise EnvironmentProblem(
                f"ffmpeg not found at {candidate!r}",
                hint="pass --ffmpeg PATH or set TALK_FFMPEG to an executable ffmpeg, or unset it to use the bundled one",
            )
    else:
        try:
            import imageio_ffmpeg

            resolved = imageio_ffmpeg.get_ffmpeg_exe()
        except Exception as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
            raise EnvironmentProblem(
                f"no ffmpeg binary available ({exc})",
                hint="reinstall with `pip install imageio-ffmpeg` or pass --ffmpeg PATH",
            ) from exc
    _version(resolved)  # raises EnvironmentProblem unless it works; cached, and renders record it anyway
    return resolved


_ERROR_WORDS = re.compile(
    r"error|invalid|no such file|permission denied|no space left|could not|cannot|unable to|failed|not found",
    re.IGNORECASE,
)


def error_line(stderr: bytes | str) -> str:
    """The line of ffmpeg's stderr that names the cause of a failure.

    Since ffmpeg 7 runs its stages on threads, a failure ends in a cascade of
    follow-on lines ("Task finished with error code", "Nothing was written into
    output file"), so the cause is the *first* line that reads like an error;
    without one, the last line. Log prefixes such as ``[libx264 @ 0x55d...]``
    are dropped.
    """
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [re.sub(r"\[[^\[\]]* @ 0x[0-9a-f]+\]\s*", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if _ERROR_WORDS.search(line):
            return line
    return lines[-1] if lines else "no output"


# ENOSPC, EFBIG, EDQUOT, or the file-size limit's signal: in each case the output cannot grow.
DISK_FULL = re.compile(r"No space left on device|File too large|Disk quota exceeded|SIGXFSZ", re.IGNORECASE)


def ffmpeg_failure(message: str, line: str, hint: str) -> TalkError:
    """The typed error for an ffmpeg failure: a full disk is the user's to fix (OutputError), the rest FfmpegError."""
    if DISK_FULL.search(line) or DISK_FULL.search(message):
        return OutputError(f"disk full: {message} ({line})", hint="free some space and run the same command again; finished segments are kept")
    return FfmpegError(f"{message}: {line}", hint=hint)


def quoted(cmd: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in cmd)


def run_ffmpeg(
    args: list[str],
    ffmpeg: str | None = None,
    *,
    what: str = "ffmpeg",
    stdout=subprocess.PIPE,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ffmpeg to completion with ``args`` (without the binary).

    ffmpeg's whole stderr comes back in ``proc.stderr`` (bytes). ``stdout`` is
    where its standard output goes: captured in ``proc.stdout`` (the default
    pipe), ``subprocess.DEVNULL``, or an open binary file such as
    ``sys.stdout.buffer``. With ``check`` a non-zero exit raises FfmpegError
    carrying the line that names the cause; without, the caller reads
    ``returncode`` and ``stderr`` and raises its own typed error. An exception
    while waiting (Ctrl-C, SIGTERM) kills ffmpeg before it propagates.
    """
    proc = _run([find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", *args], stdout)
    if check and proc.returncode != 0:
        raise FfmpegError(f"{what} failed: {error_line(proc.stderr)}", hint="run with --traceback for ffmpeg's full command")
    return proc


def _run(cmd: list[str], stdout) -> subprocess.CompletedProcess:
    log.debug("running %s", quoted(cmd))
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    except OSError as exc:  # e.g. the binary is not executable for this platform
        raise EnvironmentProblem(f"cannot start ffmpeg at {cmd[0]!r}: {exc}", hint=_FIX_FFMPEG) from exc


FfmpegProcess = subprocess.Popen  # a running ffmpeg, as start_ffmpeg returns it


def start_ffmpeg(
    args: list[str],
    ffmpeg: str | None = None,
    *,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = subprocess.DEVNULL,
) -> tuple[subprocess.Popen, StderrTail]:
    """Start ffmpeg with ``args`` (without the binary) and drain its stderr in the background.

    For streaming: the caller talks to the pipes it asked for and must wait for
    (or kill) the process. ``-nostdin`` is added only when stdin is not a pipe,
    since a pipe on stdin is where frames arrive.
    """
    cmd = [find_ffmpeg(ffmpeg), "-hide_banner"]
    if stdin != subprocess.PIPE:
        cmd.append("-nostdin")
    cmd += args
    log.debug("starting %s", quoted(cmd))
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    except OSError as exc:  # e.g. the binary is not executable for this platform
        raise EnvironmentProblem(f"cannot start ffmpeg at {cmd[0]!r}: {exc}", hint=_FIX_FFMPEG) from exc
    return proc, StderrTail(proc.stderr)


class StderrTail:
    """Reads a process's stderr on a daemon thread, keeping only the last lines.

    Without a reader, ffmpeg blocks once the stderr pipe buffer (64 KiB) fills.
    """

    def __init__(self, stream, keep: int = 50) -> None:
        self._lines: deque[str] = deque(maxlen=keep)
        self._thread = threading.Thread(target=self._drain, args=(stream,), name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        with stream:
            for raw in stream:
                self._lines.append(raw.decode("utf-8", "replace").rstrip())

    def join(self, timeout: float | None = 5.0) -> None:
        self._thread.join(timeout)

    @property
    def text(self) -> str:
        return "\n".join(self._lines)

    def error_line(self) -> str:
        return error_line(self.text)


def ffmpeg_version(ffmpeg: str | None = None) -> str:
    """First line of ``ffmpeg -version``, e.g. ``ffmpeg version 7.0.2 Copyright ...``."""
    return _version(find_ffmpeg(ffmpeg))


@lru_cache(maxsize=8)
def _version(exe: str) -> str:
    """First line of ``exe -version``; EnvironmentProblem when ``exe`` does not answer like ffmpeg."""
    proc = _run([exe, "-hide_banner", "-nostdin", "-version"], subprocess.PIPE)
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.returncode != 0 or not lines or "ffmpeg" not in lines[0].lower():
        said = f"exited {proc.returncode}" if proc.returncode else "answered " + repr(lines[0][:60] if lines else "nothing")
        raise EnvironmentProblem(f"{exe} does not work as ffmpeg (`{Path(exe).name} -version` {said})", hint=_FIX_FFMPEG)
    return lines[0].strip()


def ffmpeg_encoders(ffmpeg: str | None = None) -> frozenset[str]:
    """Names of the encoders this ffmpeg was built with (``libx264``, ``aac``, ...)."""
    return _encoders(find_ffmpeg(ffmpeg))


@lru_cache(maxsize=8)
def _encoders(exe: str) -> frozenset[str]:
    proc = run_ffmpeg(["-encoders"], exe, what="ffmpeg -encoders")
    names = set()
    past_legend = False
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.strip().startswith("------"):
            past_legend = True
            continue
        parts = line.split()
        # Rows look like " V....D libx264   libx264 H.264 / AVC ..."; the legend above
        # the dashes uses the same flag column, so only rows after it count.
        if past_legend and len(parts) >= 2 and re.fullmatch(r"[VAS.][A-Z.]{5}", parts[0]):
            names.add(parts[1])
    return frozenset(names)


# ---------------------------------------------------------------------------
# Probing: ffmpeg has no machine-readable probe without ffprobe, so the stream
# header ffmpeg prints for ``-i FILE`` is parsed for codecs and sizes, and the
# counts that must be exact (frames, samples) come from actually decoding.


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # e.g. "h264"
    pix_fmt: str  # e.g. "yuv420p"
    width: int  # coded size in pixels (before any rotation metadata)
    height: int
    fps: float  # frames per second: n_frames / duration_s when decodable, else the header's rate
    n_frames: int  # counted by decoding every frame
    duration_s: float  # seconds from the first frame's start to the last frame's end, as decoded


@dataclass(frozen=True)
class AudioInfo:
    codec: str  # e.g. "aac", "pcm_s16le"
    sample_rate: int  # Hz
    channels: int
    n_samples: int  # per channel, counted by decoding (encoder priming/padding excluded)
    duration_s: float  # n_samples / sample_rate


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration_s: float | None  # the container's duration (10 ms resolution); None when unknown
    video: VideoInfo | None  # the first video stream that is not an attached picture
    audio: AudioInfo | None  # the first audio stream


_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "downmix": 2, "hexagonal": 6, "octagonal": 8, "hexadecagonal": 16, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "4.1": 5, "5.0": 5, "5.1": 6, "6.0": 6, "6.1": 7, "7.0": 7, "7.1": 8}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses: ``yuv420p(tv, bt709)`` stays whole."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def _parse_rate(text: str) -> float:
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def parse_stream_header(text: str) -> dict:
    """Pull container duration and the first video/audio stream's fields from ``ffmpeg -i`` stderr."""
    header: dict = {"duration_s": None, "video": None, "audio": None}
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    if m:
        header["duration_s"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("Stream #0:"):
            continue
        m = re.search(r": (Video|Audio): (.*)$", line)
        if not m:
            continue
        kind, fields = m[1], _split_top(m[2])
        codec = fields[0].split()[0]
        if kind == "Video" and header["video"] is None and "(attached pic)" not in line:
            # The size is the field that starts "WxH" ("64x48 [SAR 1:1 DAR 4:3]"); searching the
            # whole line would match the codec tag ("0x31637661").
            size = next((s for f in fields[1:] if (s := re.match(r"(\d+)x(\d+)\b", f))), None)
            rate = re.search(r"([\d.]+k?) fps", m[2]) or re.search(r"([\d.]+k?) tbr", m[2])
            header["video"] = {
                "codec": codec,
                "pix_fmt": fields[1].split("(")[0].strip() if len(fields) > 1 else "",
                "width": int(size[1]) if size else 0,
                "height": int(size[2]) if size else 0,
                "fps": _parse_rate(rate[1]) if rate else 0.0,
            }
        elif kind == "Audio" and header["audio"] is None:
            rate = re.search(r"(\d+) Hz", m[2])
            channels = 0
            for field in fields[1:]:
                name = field.split("(")[0].strip()
                if name in _CHANNEL_LAYOUTS:
                    channels = _CHANNEL_LAYOUTS[name]
                    break
                n = re.fullmatch(r"(\d+) channels", name)
                if n:
                    channels = int(n[1])
                    break
                n = re.fullmatch(r"(\d+)\.(\d+)", name)  # an unlisted "N.M" layout
                if n:
                    channels = int(n[1]) + int(n[2])
                    break
            header["audio"] = {"codec": codec, "sample_rate": int(rate[1]) if rate else 0, "channels": channels}
    return header


def _progress_values(stdout: bytes) -> dict[str, str]:
    """The last value of each key in ffmpeg's ``-progress`` key=value stream."""
    values: dict[str, str] = {}
    for line in stdout.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _read_header(path: Path, ffmpeg: str | None) -> tuple[str, str, dict]:
    """(ffmpeg binary, ``ffmpeg -i`` stderr, parsed header) of an existing media file."""
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    exe = find_ffmpeg(ffmpeg)
    # With no output file ffmpeg prints the input header and exits 1; that is expected.
    proc = run_ffmpeg(["-i", str(path)], exe, stdout=subprocess.DEVNULL, check=False)
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        raise InputError(f"cannot read {path}: {error_line(text)}", hint="is it a video or audio file?")
    return exe, text, parse_stream_header(text)


def probe(path: Path | str, ffmpeg: str | None = None) -> MediaInfo:
    """Streams, sizes and exact frame/sample counts of a media file.

    Decodes the whole file (once for video, once for audio), so it costs about
    as much as playing it at full speed; meant for tests and ``talk eval``.
    """
    path = Path(path)
    exe, text, header = _read_header(path, ffmpeg)

    video = None
    if header["video"] is not None:
        v = header["video"]
        # passthrough: the null muxer would otherwise drop frames sharing a timestamp.
        out = run_ffmpeg(
            ["-i", str(path), "-map", "0:V:0", "-fps_mode", "passthrough", "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
            exe,
            what=f"decoding the video of {path}",
        )
        values = _progress_values(out.stdout)
        n_frames = int(values.get("frame", "0") or 0)
        out_us = values.get("out_time_us", "N/A")
        duration = int(out_us) / 1e6 if out_us.lstrip("-").isdigit() and int(out_us) > 0 else 0.0
        fps = n_frames / duration if n_frames and duration else v["fps"]
        if not duration and fps:
            duration = n_frames / fps
        video = VideoInfo(v["codec"], v["pix_fmt"], v["width"], v["height"], fps, n_frames, duration)

    audio = None
    if header["audio"] is not None:
        a = header["audio"]
        n_samples = _count_audio_samples(path, exe)
        duration = n_samples / a["sample_rate"] if a["sample_rate"] else 0.0
        audio = AudioInfo(a["codec"], a["sample_rate"], a["channels"], n_samples, duration)

    return MediaInfo(path, header["duration_s"], video, audio)


def _count_audio_samples(path: Path, exe: str) -> int:
    """Decode the first audio stream to mono f32le on a pipe and count the samples."""
    args = ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]
    proc, tail = start_ffmpeg(args, exe, stdout=subprocess.PIPE)
    n_bytes = 0
    try:
        while chunk := proc.stdout.read(1 << 16):
            n_bytes += len(chunk)
    finally:
        proc.stdout.close()
        rc = proc.wait()
        tail.join()
    if rc != 0:
        raise FfmpegError(f"decoding the audio of {path} failed: {tail.error_line()}")
    return n_bytes // 4


def read_frames(
    path: Path | str, ffmpeg: str | None = None, size: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Decoded frames of the first video stream, one ``(H, W, 3) uint8`` RGB array at a time.

    ``size`` is ``(width, height)`` to scale every frame to. Frames stream
    through a pipe as PPM images, whose headers carry each frame's size, so
    rotation metadata and mid-stream size changes need no probing. Closing the
    generator early kills ffmpeg.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    args = ["-i", str(path), "-map", "0:V:0", "-fps_mode", "passthrough"]
    if size is not None:
        args += ["-vf", f"scale={int(size[0])}:{int(size[1])}"]
    args += ["-c:v", "ppm", "-pix_fmt", "rgb24", "-f", "image2pipe", "pipe:1"]
    proc, tail = start_ffmpeg(args, ffmpeg, stdout=subprocess.PIPE)
    finished = False
    try:
        while True:
            frame = _read_ppm(proc.stdout)
            if frame is None:
                break
            yield frame
        finished = True
    finally:
        if not finished:
            proc.kill()
        proc.stdout.close()
        rc = proc.wait()
        tail.join()
    if rc != 0:
        raise FfmpegError(f"decoding the video of {path} failed: {tail.error_line()}")


def _read_ppm(stream) -> np.ndarray | None:
    """One binary PPM (``P6\\nW H\\n255\\n`` + rgb24 bytes) from ``stream``; None at end of stream."""
    import numpy as np  # here, so that importing this module (and `talk --help`) stays light

    magic = stream.readline()
    if not magic:
        return None
    dims, maxval = stream.readline().split(), stream.readline().strip()
    if magic.strip() != b"P6" or len(dims) != 2 or maxval != b"255":
        raise FfmpegError(f"unexpected frame header from ffmpeg: {magic!r} {dims!r} {maxval!r}")
    width, height = int(dims[0]), int(dims[1])
    n = width * height * 3
    data = stream.read(n)
    if len(data) != n:
        raise FfmpegError(f"truncated frame from ffmpeg ({len(data)} of {n} bytes)")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


# ---------------------------------------------------------------------------
# Container metadata for ``talk eval``: tags (the render's comment points at its
# job directory) and where the first video frame and first audio sample sit on
# the file's timeline, which is what A/V offset measurements must start from.


@dataclass(frozen=True)
class MediaMeta:
    """Container tags and stream start times of a media file.

    ``tags`` are the container's metadata (``{"comment": "talkcli job=..."}``),
    keys lower-cased. ``video_start_s`` / ``audio_start_s`` are the presentation
    times, in seconds from the file's start, of the first decoded video frame
    and of the first decoded audio sample (None when there is no such stream):
    frame ``i`` of ``read_frames`` plays at ``video_start_s + i / fps`` and
    sample ``k`` of a plain decode at ``audio_start_s + k / rate``.
    """

    tags: dict[str, str]
    video_start_s: float | None
    audio_start_s: float | None


def _container_tags(text: str) -> dict[str, str]:
    """The ``Metadata:`` block of ``Input #0`` (before its first stream) in ``ffmpeg -i`` stderr."""
    tags: dict[str, str] = {}
    lines = text.splitlines()
    inside = False
    for line in lines:
        stripped = line.strip()
        if line.startswith("Input #0"):
            inside = True
            continue
        if not inside:
            continue
        if stripped.startswith(("Duration:", "Stream #", "Chapter")) or line.startswith(("Output #", "Stream mapping")):
            break
        key, sep, value = stripped.partition(":")
        if sep and key and stripped != "Metadata:":
            tags[key.strip().lower()] = value.strip()
    return tags


def read_media_meta(path: Path | str, ffmpeg: str | None = None) -> MediaMeta:
    """Tags and first-frame/first-sample times of ``path`` (decodes one frame of each stream)."""
    path = Path(path)
    exe, text, header = _read_header(path, ffmpeg)
    args = ["-i", str(path)]
    if header["video"] is not None:
        args += ["-map", "0:V:0", "-vf", "showinfo", "-frames:v", "1"]
    if header["audio"] is not None:
        args += ["-map", "0:a:0", "-af", "ashowinfo", "-frames:a", "1"]
    starts: dict[str, float] = {}
    if len(args) > 2:
        out = run_ffmpeg([*args, "-f", "null", "-"], exe, what=f"reading the start times of {path}")
        for line in out.stderr.decode("utf-8", "replace").splitlines():
            m = re.search(r"Parsed_(a?)showinfo_\d+ @ [^\]]*\]\s*n:\s*0\s+pts:\s*-?\d+\s+pts_time:\s*(-?[\d.]+)", line)
            if m:
                starts.setdefault("audio" if m[1] else "video", float(m[2]))
    return MediaMeta(_container_tags(text), starts.get("video"), starts.get("audio"))
