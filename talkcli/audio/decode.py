"""Decode any audio (or a video's audio track) to 16 kHz mono float32.

There is one path, through ffmpeg, for every format: wav, flac, mp3, m4a/aac,
ogg and video files all go through the same downmix and resampler, so a clip
decodes to the same samples whatever container it came in.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from talkcli.errors import AudioError, FfmpegError, OutputError
from talkcli.mux.ffmpeg import DISK_FULL, error_line, find_ffmpeg, parse_stream_header, run_ffmpeg

log = logging.getLogger(__name__)

ANALYSIS_RATE = 16000  # Hz; every audio feature in talk is computed at this rate

# Shortest audio talk renders: 50 ms (800 samples at 16 kHz). The phone
# recogniser needs at least one 25.6 ms analysis window plus its frame shift
# (pocketsphinx returns no segmentation at all for 400 samples or fewer), and
# 50 ms is more than one video frame at every frame rate from 25 fps up.
MIN_AUDIO_S = 0.05
MIN_AUDIO_SAMPLES = round(MIN_AUDIO_S * ANALYSIS_RATE)  # 800
_SCAN_BLOCK = 1 << 20  # samples per block when scanning for non-finite values (4 MB)

# The first "Audio:" stream line ffmpeg prints is the input's first audio stream
# (input streams are listed before the output's), the one `-map 0:a:0` picks:
#   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded clip: ``samples`` is (n,) float32 mono at ``sample_rate`` (16 kHz), read-only.

    ``source_sample_rate`` (Hz) and ``source_channels`` describe the input
    stream as ffmpeg reported it (None when it could not be read);
    ``duration_s`` is ``n / sample_rate`` seconds.
    """

    samples: np.ndarray
    sample_rate: int
    source: Path
    source_sample_rate: int | None
    source_channels: int | None
    duration_s: float


def decode_audio(path: str | Path, ffmpeg: str | None = None, keep_in: Path | None = None) -> DecodedAudio:
    """Decode the first audio stream of ``path`` to 16 kHz mono float32.

    With ``keep_in`` (a folder that outlives the result), the samples stay in a
    file there and ``samples`` is a ``FileSamples`` read by slices: memory stays
    flat however long the audio. Without it they are an in-memory array.

    Reads anything ffmpeg reads, including the audio track of a video file.
    Raises ``AudioError`` when the file is missing, is not decodable, has no
    audio stream, holds no samples, is shorter than ``MIN_AUDIO_S`` seconds or
    holds NaN/infinite samples; ``EnvironmentProblem`` when no ffmpeg.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"audio file not found: {path}", hint="check the path to the speech recording")
    if path.is_dir():
        raise AudioError(f"audio path is a directory: {path}", hint="pass an audio file (wav, mp3, m4a, ...), not a folder")

    binary = find_ffmpeg(ffmpeg)
    # `-ac 1` alone sums stereo at 0.707 per channel (+3 dB, may clip);
    # rematrix_maxval=1 scales the downmix to unity gain: stereo -> (L + R) / 2.
    resample = "aresample=rematrix_maxval=1" + (":resampler=soxr" if _has_soxr(binary) else "")
    # ffmpeg writes the samples to a temp file, read back in one piece: a pipe read
    # into memory would hold the audio twice at its peak (chunks, then the joined bytes).
    with tempfile.TemporaryDirectory(prefix="talk-audio-") as tmp:
        raw = Path(keep_in or tmp) / "analysis.f32"
        args = [
            "-nostats",
            "-i", f"file:{path}",  # a name with a colon ("take:2.wav") is not a protocol
            "-map", "0:a:0", "-vn",
            "-af", resample, "-ac", "1", "-ar", str(ANALYSIS_RATE),
            "-f", "f32le", "-y", str(raw),
        ]  # fmt: skip
        # check=False: the default error keeps only one stderr line, and this needs
        # all of it (the input's stream line; "matches no streams" for no audio).
        proc = run_ffmpeg(args, binary, stdout=subprocess.DEVNULL, check=False)
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            if DISK_FULL.search(stderr) or proc.returncode == -signal.SIGXFSZ:
                raise OutputError(
                    f"disk full while decoding {path.name} into {raw.parent}",
                    hint="free some space there, or point TMPDIR at a disk with room",
                )
            if "matches no streams" in stderr:
                raise AudioError(f"{path} has no audio stream", hint="pass a file with a speech track")
            raise AudioError(
                f"cannot decode audio from {path}: {error_line(stderr)}",
                hint="check that the file plays; converting it to WAV may help",
            )
        if keep_in is not None and raw.exists():
            from talkcli.audio.buffer import FileSamples

            samples = FileSamples(raw)
        else:
            samples = np.fromfile(raw, dtype="<f4") if raw.exists() else np.zeros(0, np.float32)
            samples.flags.writeable = False  # shared by every stage; nobody edits it in place

    if samples.size == 0:
        raise AudioError(f"{path} holds no audio samples", hint="the recording is empty; export it again")
    short = _wav_shortfall(path)
    if short is not None:
        raise AudioError(
            f"{path} is truncated: its header declares {short[0]} bytes of audio, the file holds {short[1]}",
            hint="the download or copy was cut short; get the file again",
        )
    header = parse_stream_header(stderr)
    declared = header["duration_s"]
    decoded = samples.size / ANALYSIS_RATE
    # A file cut short keeps its header: the container promises more than decodes.
    if declared and declared > 1.0 and decoded < 0.9 * declared - 0.5:
        raise AudioError(
            f"{path} is truncated: its header says {declared:.1f} s but only {decoded:.1f} s decode",
            hint="the download or copy was cut short; get the file again",
        )
    stream = header["audio"] or {}
    source_rate, source_channels = stream.get("sample_rate") or None, stream.get("channels") or None
    _check_usable(samples, path)
    return DecodedAudio(
        samples=samples,
        sample_rate=ANALYSIS_RATE,
        source=path,
        source_sample_rate=source_rate,
        source_channels=source_channels,
        duration_s=samples.size / ANALYSIS_RATE,
    )


def _check_usable(samples, path: Path) -> None:
    """Refuse audio too short for one frame's analysis, or holding NaN/inf samples (``AudioError``).

    ``samples`` may be a ``FileSamples``: it is scanned in blocks, never read whole.
    """
    n = samples.size
    if n < MIN_AUDIO_SAMPLES:
        raise AudioError(
            f"{path} is too short: {n / ANALYSIS_RATE * 1000:.1f} ms of audio, talk needs at least {MIN_AUDIO_S * 1000:.0f} ms",
            hint="pass a longer speech recording",
        )
    for a in range(0, n, _SCAN_BLOCK):
        block = np.asarray(samples[a : a + _SCAN_BLOCK])
        finite = np.isfinite(block)
        if not finite.all():
            first = a + int(np.argmin(finite))
            raise AudioError(
                f"{path} holds NaN or infinite samples (the first at {first / ANALYSIS_RATE:.3f} s)",
                hint="the float recording is corrupt; export it again, e.g. as 16-bit PCM WAV",
            )


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE file's data chunk when fewer are present than declared."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                chunk_id, length = struct.unpack("<4sI", f.read(8))
                if chunk_id == b"data":
                    present = size - pos - 8
                    # 0 and 0xFFFFFFFF mean "unknown" (streamed WAV): nothing to compare.
                    if 0 < length < 0xFFFFFFFF and present < length:
                        return length, present
                    return None
                pos += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def decoded_is_silent(samples: np.ndarray, threshold_dbfs: float = -60.0) -> bool:
    """True when the RMS level of the whole clip is below ``threshold_dbfs`` (dB relative to full scale 1.0)."""
    if samples.size == 0:
        return True
    total = 0.0
    for a in range(0, samples.size, 1 << 20):  # in blocks: no full-length float64 copy
        total += float(np.sum(np.square(samples[a : a + (1 << 20)], dtype=np.float64)))
    rms = float(np.sqrt(total / samples.size))
    return rms == 0.0 or 20.0 * np.log10(rms) < threshold_dbfs


@lru_cache(maxsize=8)
def _has_soxr(binary: str) -> bool:
    # A TALK_FFMPEG build may lack libsoxr; the bundled static build has it.
    try:
        return "--enable-libsoxr" in run_ffmpeg(["-buildconf"], binary).stdout.decode("utf-8", "replace")
    except (FfmpegError, OSError):  # an odd ffmpeg that cannot print its build: use swr
        return False
