"""VideoWriter: what lands on disk is probed back with ffmpeg, not assumed."""

from __future__ import annotations

import math
import os
import signal
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkcli.errors import EnvironmentProblem, FfmpegError, InputError, OutputError
from talkcli.mux.ffmpeg import error_line, ffmpeg_encoders, ffmpeg_version, find_ffmpeg, probe, read_frames
from talkcli.mux.writer import VideoWriter

W, H = 64, 48


def sine_wav(path: Path, seconds: float, sr: int = 16000) -> Path:
    n = round(seconds * sr)
    t = np.arange(n) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def solid(rgb: tuple[int, int, int], n: int = 1) -> np.ndarray:
    frames = np.empty((n, H, W, 3), np.uint8)
    frames[:] = rgb
    return frames


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".part" in p.name)


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return sine_wav(tmp_path / "speech.wav", 1.0)


@pytest.mark.parametrize(
    ("seconds", "fps"),
    [(1.0, Fraction(25)), (1.013, Fraction(25)), (0.5, Fraction(30000, 1001)), (1.013, Fraction(30000, 1001))],
)
def test_streams_frame_count_and_av_durations(tmp_path: Path, seconds: float, fps: Fraction) -> None:
    audio = sine_wav(tmp_path / "a.wav", seconds)
    n_frames = math.ceil(seconds * fps)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, W, H, fps, audio) as writer:
        for i in range(n_frames):
            writer.write(solid((i * 7 % 256, 80, 160))[0])
    assert writer.frames_written == n_frames

    info = probe(out)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.pix_fmt, info.video.width, info.video.height) == ("h264", "yuv420p", W, H)
    assert info.video.n_frames == n_frames
    assert info.video.fps == pytest.approx(float(fps), rel=1e-6)
    assert info.audio.codec == "aac"
    assert info.audio.sample_rate == 16000 and info.audio.channels == 1
    # AAC priming/padding must be trimmed: the decoded audio is the original length.
    assert info.audio.duration_s == pytest.approx(seconds, abs=1 / 16000 + 1e-9)
    frame_s = 1 / float(fps)
    assert 0 <= info.video.duration_s - info.audio.duration_s < frame_s
    assert info.duration_s == pytest.approx(info.video.duration_s, abs=0.011)
    assert leftovers(tmp_path) == []


def test_decoded_frames_match_what_was_written(tmp_path: Path, wav: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 40, 90), (20, 20, 20), (240, 240, 240)]
    written = np.concatenate([solid(c, 4) for c in colours])
    out = tmp_path / "out.mp4"
    with VideoWriter(out, W, H, Fraction(25), wav, crf=10) as writer:
        writer.write(written)  # one batch (N, H, W, 3)

    decoded = list(read_frames(out))
    assert len(decoded) == len(written)
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in decoded)
    for got, want in zip(decoded, written):
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 3.0

    small = next(read_frames(out, size=(32, 24)))
    assert small.shape == (24, 32, 3)


def test_video_only_when_no_audio(tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    with VideoWriter(out, W, H, Fraction(30000, 1001), None) as writer:
        writer.write(solid((10, 20, 30), 12))
    info = probe(out)
    assert info.audio is None
    assert info.video.n_frames == 12


def test_exception_inside_with_leaves_nothing(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="model blew up"):
        with VideoWriter(out, W, H, Fraction(25), wav) as writer:
            writer.write(solid((1, 2, 3), 5))
            raise RuntimeError("model blew up")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav"]


def test_keyboard_interrupt_removes_temp_file(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, W, H, Fraction(25), wav) as writer:
            writer.write(solid((1, 2, 3), 5))
            writer._proc.stdin.flush()
            deadline = time.monotonic() + 10
            while not leftovers(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(leftovers(tmp_path)) == 1  # ffmpeg really was writing beside the output
            raise KeyboardInterrupt
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_existing_output_refused_without_overwrite_and_survives_failure(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an older render")

    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        VideoWriter(out, W, H, Fraction(25), wav)

    with pytest.raises(ValueError):
        with VideoWriter(out, W, H, Fraction(25), wav, overwrite=True) as writer:
            writer.write(solid((9, 9, 9), 3))
            writer.write(np.zeros((H, W + 2, 3), np.uint8))  # wrong shape mid-render
    assert out.read_bytes() == b"an older render"
    assert leftovers(tmp_path) == []

    with VideoWriter(out, W, H, Fraction(25), wav, overwrite=True) as writer:
        writer.write(solid((9, 9, 9), 25))
    assert probe(out).video.n_frames == 25


@pytest.mark.parametrize(("width", "height"), [(63, 48), (64, 47)])
def test_odd_size_is_rejected(tmp_path: Path, wav: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "out.mp4", width, height, Fraction(25), wav)


def test_missing_directory(tmp_path: Path, wav: Path) -> None:
    with pytest.raises(OutputError, match="does not exist") as info:
        VideoWriter(tmp_path / "nope" / "out.mp4", W, H, Fraction(25), wav)
    assert "mkdir" in info.value.hint


def test_unwritable_directory(tmp_path: Path, wav: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere, so the permission check is told the truth for others
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    try:
        with pytest.raises(OutputError, match="not writable"):
            VideoWriter(locked / "out.mp4", W, H, Fraction(25), wav)
    finally:
        locked.chmod(0o700)


def test_output_equal_to_audio_input_is_refused(tmp_path: Path, wav: Path) -> None:
    with pytest.raises(OutputError, match="is also an input"):
        VideoWriter(tmp_path / "." / wav.name, W, H, Fraction(25), wav, overwrite=True)
    assert sf.info(wav).frames == 16000


def test_wrong_frame_shape_or_dtype(tmp_path: Path, wav: Path) -> None:
    writer = VideoWriter(tmp_path / "out.mp4", W, H, Fraction(25), wav)
    with pytest.raises(ValueError, match="uint8"):
        writer.write(np.zeros((H, W, 3), np.float32))
    with pytest.raises(ValueError, match="H=48, W=64"):
        writer.write(np.zeros((W, H, 3), np.uint8))
    writer.abort()
    assert leftovers(tmp_path) == []


def test_ffmpeg_killed_mid_write_raises_ffmpeg_error(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(FfmpegError, match="ffmpeg stopped .*killed by SIGKILL") as info:
        with VideoWriter(out, W, H, Fraction(25), wav) as writer:
            writer.write(solid((50, 50, 50), 2))
            os.kill(writer._proc.pid, signal.SIGKILL)
            writer._proc.wait()
            for _ in range(1000):  # the pipe buffer absorbs the first writes
                writer.write(solid((50, 50, 50), 10))
    assert info.value.exit_code == 7
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_ffmpeg_failure_at_close_keeps_user_path_untouched(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    # An invalid x264 preset is only rejected once ffmpeg opens the encoder.
    with pytest.raises(FfmpegError, match="invalid preset 'no-such-preset'"):
        with VideoWriter(out, W, H, Fraction(25), wav, preset="no-such-preset", overwrite=True) as writer:
            writer.write(solid((1, 1, 1), 3))
    assert out.read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []


def test_explicit_ffmpeg_that_does_not_exist(tmp_path: Path, wav: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="ffmpeg not found"):
        VideoWriter(tmp_path / "out.mp4", W, H, Fraction(25), wav, ffmpeg=str(tmp_path / "no-ffmpeg"))


def test_talk_ffmpeg_env_that_does_not_exist(tmp_path: Path, wav: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALK_FFMPEG", str(tmp_path / "no-ffmpeg"))
    find_ffmpeg.cache_clear()
    try:
        with pytest.raises(EnvironmentProblem) as info:
            VideoWriter(tmp_path / "out.mp4", W, H, Fraction(25), wav)
        assert info.value.exit_code == 6
    finally:
        find_ffmpeg.cache_clear()


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("body", "said"),
    [("exit 1", "exited 1"), ("exit 0", "answered 'nothing'"), ("echo 'Usage: convert FILE'", "answered 'Usage: convert FILE'")],
)
def test_an_ffmpeg_that_does_not_work_is_an_environment_problem(tmp_path: Path, body: str, said: str) -> None:
    # /bin/false as --ffmpeg used to pass the lookup and then fail every decode: blamed on the input (exit 4).
    fake = _script(tmp_path / "ffmpeg", body)
    with pytest.raises(EnvironmentProblem, match="does not work as ffmpeg") as info:
        find_ffmpeg(fake)
    assert said in info.value.message
    assert info.value.exit_code == 6
    assert "--ffmpeg" in info.value.hint and "TALK_FFMPEG" in info.value.hint


def test_decoding_with_a_broken_ffmpeg_blames_ffmpeg_not_the_audio(tmp_path: Path, wav: Path) -> None:
    from talkcli.audio.decode import decode_audio

    with pytest.raises(EnvironmentProblem):
        decode_audio(wav, ffmpeg=_script(tmp_path / "ffmpeg", "exit 1"))


def test_an_ffmpeg_that_cannot_start_is_an_environment_problem(tmp_path: Path) -> None:
    not_a_program = tmp_path / "ffmpeg"
    not_a_program.write_bytes(b"\x7fELF\x02\x01\x01 not really")  # executable bit, but exec fails (ENOEXEC)
    not_a_program.chmod(0o755)
    with pytest.raises(EnvironmentProblem, match="cannot start ffmpeg"):
        find_ffmpeg(str(not_a_program))


# -- the probe the tests above rely on ------------------------------------


def test_ffmpeg_version_and_encoders() -> None:
    assert ffmpeg_version().startswith("ffmpeg version ")
    encoders = ffmpeg_encoders()
    assert {"libx264", "aac", "rawvideo"} <= encoders
    assert "Video" not in encoders and "------" not in encoders  # legend rows are not encoders


def test_probe_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, np.zeros((44100 * 3 // 2, 2), np.float32), 44100, subtype="PCM_16")
    info = probe(path)
    assert info.video is None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("pcm_s16le", 44100, 2)
    assert info.audio.n_samples == 66150
    assert info.duration_s == pytest.approx(1.5, abs=0.011)


def test_probe_rejects_missing_and_non_media_files(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        probe(tmp_path / "missing.mp4")
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    with pytest.raises(InputError, match="cannot read .*notes.mp4: moov atom not found"):
        probe(junk)


def test_read_frames_stops_ffmpeg_when_closed_early(tmp_path: Path, wav: Path) -> None:
    out = tmp_path / "out.mp4"
    with VideoWriter(out, W, H, Fraction(25), wav) as writer:
        writer.write(solid((0, 128, 255), 25))
    frames = read_frames(out)
    first = next(frames)
    assert np.abs(first.astype(int) - [0, 128, 255]).mean() < 4
    frames.close()  # must not hang or leave ffmpeg running
    assert sum(1 for _ in read_frames(out)) == 25


def test_error_line_picks_the_cause_not_the_cascade() -> None:
    stderr = (
        "[aist#1:0/pcm_s16le @ 0x5] Guessed Channel Layout: stereo\n"
        "x264 [error]: invalid preset 'bad'\n"
        "[vf#0:0 @ 0x5] Task finished with error code: -22 (Invalid argument)\n"
        "[out#0/mp4 @ 0x5] Nothing was written into output file, because at least one of its streams received no packets.\n"
    )
    assert error_line(stderr) == "x264 [error]: invalid preset 'bad'"
    assert error_line(b"[mp4 @ 0xab] just chatter\n\n") == "just chatter"
    assert error_line("") == "no output"


def test_x264_params_reach_the_encoder(tmp_path: Path) -> None:
    for params, expect in (("", b"mbtree=0"), ("mbtree=1:rc-lookahead=10", b"rc_lookahead=10")):
        out = tmp_path / "p.mp4"
        with VideoWriter(out, 64, 48, Fraction(25), None, preset="superfast", x264_params=params, overwrite=True) as w:
            w.write(solid((10, 200, 30), 5))
        assert probe(out).video.n_frames == 5
        assert expect in out.read_bytes()  # x264 writes its options into the stream
