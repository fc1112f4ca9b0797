"""Hostile-input probe: every case ends in its documented exit code with one ``error: ... (hint: ...)`` line.

Exit codes measured by running the command before and after the fix
(``talk render ... --preset smoke``, ``talk inspect``, ``talk cues``, ``talk batch``, ``talk eval``):

| probe case                                             | before           | after |
|--------------------------------------------------------|------------------|-------|
| photo: decompression-bomb PNG (30000x30000 zeros)      | 1 (render, insp.)| 4     |
| photo: 16-bit greyscale PNG                            | 4 ("no face")    | 0     |
| photo: 16-bit RGB(A) PNG                               | 0 (already fine) | 0     |
| photo: 100..179 MP / over 179 MP (load_image ceiling) | 0 / 1            | 4 / 4 |
| photo: 12000x8000, full frame (check_full_frame_size)  | 0 (probe: 12 s/frame) | 4 once the pipeline calls it |
| audio: 300 samples (render, cues; batch traceback)     | 1                | 4     |
| audio: 4.015 s clip leaving a 399-sample last chunk    | 1 (cues)         | 0     |
| audio: float32 WAV with NaN / inf samples (render)     | 7 (at the join)  | 4     |
| settings: --seed -1                                    | 1                | 2     |
| settings: --set mux.audio_bitrate=zzz                  | 7 (at the join)  | 2     |
| settings: --set mux.x264_preset=bogus                  | 7 (encoding)     | 2     |
| settings: --fps 0.001 / --fps 200                      | 0 / 0            | 2 / 2 |
| batch: --workers 0 / -3                                | 3 (items failed) | 2     |
| batch: CSV row with extra cells                        | 1                | 2     |
| batch: binary (non-UTF-8) CSV                          | 1                | 2     |
| batch: JSONL line that is an array or a scalar         | 1                | 2     |
| batch: non-string ref/audio/out/transcript             | 1                | 2     |
| batch: clip.wav + clip.mp3 -> one clip.mp4             | 0, "2 rendered"  | 2     |
| eval: a text file named .jpg                           | 7                | 4     |
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

from talkcli.cli.app import app
from cli_render import one_error, render_cli as _render
from talkcli.errors import AudioError, ExitCode, ImageError

runner = CliRunner()


def _one_error(result) -> str:
    return one_error(result, hint=True)


@pytest.fixture()
def speech(tmp_path, example_face):
    """1 s of the example speech, 16-bit PCM."""
    samples, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    path = tmp_path / "speech.wav"
    sf.write(path, samples[:sr], sr, subtype="PCM_16")
    return path


# -- photos -----------------------------------------------------------------------


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG declaring ``width`` x ``height`` 8-bit grey whose IDAT holds only the first rows of zeros.

    load_image refuses a photo from its header, before decoding, so the rest of
    the 900 MB of a real bomb need not be compressed here.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.parametrize("command", ["render", "inspect"])
def test_probe_bad_photo_decompression_bomb_png(tmp_path, speech, command):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 30000, 30000)  # 900 MP: past Pillow's own DecompressionBombError ceiling
    if command == "render":
        result, out = _render(tmp_path, bomb, speech)
    else:
        out = tmp_path / "overlay.png"
        result = runner.invoke(app, ["inspect", "--ref", str(bomb), "-o", str(out)])
    assert result.exit_code == ExitCode.INPUT == 4, result.output
    assert "too large" in _one_error(result)
    assert not out.exists()


def test_probe_bad_photo_over_100_megapixels_refused_from_header(tmp_path):
    from talkcli.face.image import MAX_PHOTO_PIXELS, load_image

    big = tmp_path / "big.png"
    _png_header_only(big, 11000, 10000)  # 110 MP: under Pillow's ceiling, over ours
    assert 11000 * 10000 > MAX_PHOTO_PIXELS
    with pytest.raises(ImageError, match="too large") as info:
        load_image(big)
    assert info.value.exit_code == ExitCode.INPUT and "downscale" in info.value.hint


def _face_grey(example_face) -> np.ndarray:
    return np.asarray(Image.open(example_face).convert("L"), dtype=np.uint8)


def test_probe_bad_photo_16bit_greyscale_png_is_scaled_not_white(tmp_path, example_face):
    from talkcli.face.image import load_image

    grey = _face_grey(example_face)
    path = tmp_path / "grey16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)  # 8-bit v -> 16-bit v * 257
    assert Image.open(path).mode.startswith("I;16")
    out = load_image(path)
    assert out.shape == (*grey.shape, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], grey) and np.array_equal(out[..., 1], grey) and np.array_equal(out[..., 2], grey)


def test_probe_bad_photo_16bit_greyscale_png_full_range(tmp_path):
    from talkcli.face.image import load_image

    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    out = load_image(path)[..., 0]
    assert out[0, 0] == 0 and out[0, -1] == 255
    assert np.all(np.diff(out[0].astype(int)) >= 0)  # monotone, not clipped at 255
    assert np.abs(out.astype(int) - np.round(ramp / 257)).max() <= 1


@pytest.mark.parametrize("channels", [3, 4])
def test_probe_bad_photo_16bit_rgb_png(tmp_path, channels):
    import cv2

    from talkcli.face.image import load_image

    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    wide = rgb8.astype(np.uint16) * 257
    if channels == 4:
        wide = np.dstack([wide, np.full(wide.shape[:2], 65535, np.uint16)])  # opaque
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), wide[..., [2, 1, 0, *([3] if channels == 4 else [])]])  # cv2 writes BGR(A)
    assert np.array_equal(load_image(path), rgb8)


def test_probe_bad_photo_12000x8000_full_frame_is_refused():
    from talkcli.face.image import MAX_FULL_FRAME_PIXELS, MAX_FULL_FRAME_SIDE, check_full_frame_size

    assert MAX_FULL_FRAME_PIXELS == 139_264 * 256 == 35_651_584
    with pytest.raises(ImageError, match="too large for full-frame") as info:
        check_full_frame_size((8000, 12000, 3), "big.jpg")
    assert info.value.exit_code == ExitCode.INPUT
    assert "--crop-only" in info.value.hint and "downscale" in info.value.hint
    for shape in [(4320, 7680, 3), (4352, 8192), (600, 512, 3)]:  # 8K UHD; exactly level 6.2's frame
        check_full_frame_size(shape)
    for shape in [(4368, 8192), (100, MAX_FULL_FRAME_SIDE + 2), (MAX_FULL_FRAME_SIDE + 2, 100)]:
        with pytest.raises(ImageError):
            check_full_frame_size(shape)


# -- audio ------------------------------------------------------------------------


def _wav(path, samples, subtype="PCM_16"):
    sf.write(path, np.asarray(samples, np.float32), 16000, subtype=subtype)
    return path


def _tone(n: int) -> np.ndarray:
    return (0.3 * np.sin(np.arange(n) / 5)).astype(np.float32)


def test_probe_bad_audio_300_samples_render(tmp_path, example_face):
    result, out = _render(tmp_path, example_face, _wav(tmp_path / "tiny.wav", _tone(300)))
    assert result.exit_code == ExitCode.INPUT == 4, result.output
    assert "too short" in _one_error(result)
    assert not out.exists()


def test_probe_bad_audio_300_samples_cues(tmp_path):
    out = tmp_path / "cues.json"
    result = runner.invoke(app, ["cues", str(_wav(tmp_path / "tiny.wav", _tone(300))), "-o", str(out)])
    assert result.exit_code == ExitCode.INPUT, result.output
    assert "too short" in _one_error(result)
    assert not out.exists()


def test_probe_bad_audio_minimum_length_is_decoded(tmp_path):
    from talkcli.audio.decode import MIN_AUDIO_SAMPLES, decode_audio

    assert MIN_AUDIO_SAMPLES == 800  # 50 ms at 16 kHz
    assert decode_audio(_wav(tmp_path / "ok.wav", _tone(MIN_AUDIO_SAMPLES))).samples.size == MIN_AUDIO_SAMPLES
    with pytest.raises(AudioError, match="too short"):
        decode_audio(_wav(tmp_path / "short.wav", _tone(MIN_AUDIO_SAMPLES - 1)))


def test_probe_bad_audio_short_last_chunk_recognised(tmp_path):
    """4.015 s whose quietest 10 ms before 4 s leaves a 399-sample last chunk: pocketsphinx gives no segments."""
    from talkcli.audio.phonemes import PhoneRecognizer, phone_batches, speech_chunks

    rng = np.random.default_rng(0)
    t = np.arange(int(4.015 * 16000)) / 16000
    x = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t)) + rng.normal(0, 0.02, t.size)).astype(np.float32)
    x[int(3.99 * 16000) : int(4.0 * 16000)] *= 0.001
    last = speech_chunks(x)[-1]
    assert last.end - last.start <= 400
    batches = list(phone_batches(x, PhoneRecognizer()))
    assert batches[-1].end_s == pytest.approx(x.size / 16000)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_probe_bad_audio_nan_samples_render(tmp_path, example_face, bad):
    samples = _tone(16000)
    samples[5000:5100] = bad
    result, out = _render(tmp_path, example_face, _wav(tmp_path / "nan.wav", samples, subtype="FLOAT"))
    assert result.exit_code == ExitCode.INPUT == 4, result.output
    assert "NaN or infinite" in _one_error(result)
    assert not out.exists()


def test_probe_bad_audio_nan_found_in_file_backed_samples(tmp_path):
    """With ``keep_in`` the samples are a FileSamples read in blocks; the scan finds a NaN past the first block."""
    from talkcli.audio import decode

    samples = _tone(3000)
    samples[2500] = np.nan
    path = _wav(tmp_path / "nan.wav", samples, subtype="FLOAT")
    keep = tmp_path / "keep"
    keep.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode, "_SCAN_BLOCK", 1024)
        with pytest.raises(AudioError, match=r"first at 0\.156 s"):
            decode.decode_audio(path, keep_in=keep)


# -- settings ---------------------------------------------------------------------


@pytest.mark.parametrize("flags,needle", [
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32)], "--seed"),
    (["--set", "mux.audio_bitrate=zzz"], "mux.audio_bitrate"),
    (["--set", "mux.audio_bitrate=160"], "mux.audio_bitrate"),  # 160 bits/s: meant 160k
    (["--set", "mux.x264_preset=bogus"], "mux.x264_preset"),
    (["--fps", "0.001"], "--fps"),
    (["--fps", "200"], "--fps"),
])  # fmt: skip
def test_probe_bad_settings_refused_before_any_work(tmp_path, speech, example_face, flags, needle):
    """--seed -1 gave exit 1; a bad bit rate or x264 preset rendered and failed in ffmpeg (exit 7); --fps 0.001 rendered."""
    result, out = _render(tmp_path, example_face, speech, *flags)
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    assert needle in _one_error(result)
    assert list(tmp_path.iterdir()) == [speech]  # no job folder, no output


@pytest.mark.parametrize("value", ["160k", "96000", 96000, "1.5M", "64K", "192k"])
def test_probe_bad_settings_audio_bitrate_forms_accepted(value):
    from talkcli.config.settings import load_settings

    assert load_settings(None, {"mux.audio_bitrate": value}).mux.audio_bitrate == str(value)


@pytest.mark.parametrize("value", ["zzz", "160kb", "-5k", "1.5G", "", "k", "160 k"])
def test_probe_bad_settings_audio_bitrate_forms_refused(value):
    from talkcli.config.settings import load_settings
    from talkcli.errors import ConfigError

    with pytest.raises(ConfigError, match="audio_bitrate"):
        load_settings(None, {"mux.audio_bitrate": value})


def test_probe_bad_settings_limits():
    from talkcli.config.settings import X264_PRESETS, load_settings
    from talkcli.errors import ConfigError

    for preset in X264_PRESETS:
        assert load_settings(None, {"mux.x264_preset": preset}).mux.x264_preset == preset
    for fps in ["1", "120", "30000/1001", "12.5"]:
        load_settings(None, {"audio.fps": fps})
    for seed in [0, 2**32 - 1]:
        load_settings(None, {"motion.seed": seed})
    for flags in [{"audio.fps": "0.999"}, {"audio.fps": "121"}, {"motion.seed": -1}, {"mux.x264_preset": "Medium"}]:
        with pytest.raises(ConfigError):
            load_settings(None, flags)


# -- batch ------------------------------------------------------------------------


def _batch(*args):
    return runner.invoke(app, ["batch", *map(str, args), "--preset", "smoke", "--progress", "none"])


@pytest.mark.parametrize("workers", ["0", "-3", "65"])
def test_probe_bad_batch_workers(tmp_path, speech, example_face, workers):
    """--workers 0 / -3 were accepted (and rendered serially): exit 3 or 0 depending on the items."""
    result = _batch(speech.parent, "--ref", example_face, "--workers", workers)
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    assert "--workers" in _one_error(result)
    assert not (tmp_path / "speech.mp4").exists()


def _list(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name,text,needle", [
    ("extra.csv", "ref,audio,out\nface.jpg,a.wav,a.mp4,oops\n", "extra.csv item 1 has 1 more cell(s)"),
    ("binary.csv", bytes(range(128, 256)) * 4, "binary.csv is not a UTF-8"),
    ("binary.jsonl", b'{"audio": "\xff\xfe.wav"}\n', "binary.jsonl is not a UTF-8"),
    ("nul.csv", "ref,audio\nface.jpg,a\0.wav\n", "nul.csv item 1: audio holds a NUL byte"),
    ("array.jsonl", '[1, 2]\n', "array.jsonl item 1 is a JSON list, not an object"),
    ("scalar.jsonl", '{"ref": "f.jpg", "audio": "a.wav"}\n"a.wav"\n', "scalar.jsonl item 2 is a JSON str"),
    ("number.jsonl", '7\n', "number.jsonl item 1 is a JSON int"),
    ("ref.jsonl", '{"ref": 5, "audio": "a.wav"}\n', "ref.jsonl item 1: ref must be a text path, got 5"),
    ("audio.jsonl", '{"ref": "f.jpg", "audio": ["a.wav"]}\n', "audio.jsonl item 1: audio must be a text path"),
    ("out.jsonl", '{"ref": "f.jpg", "audio": "a.wav", "out": {"p": 1}}\n', "out.jsonl item 1: out must be a text path"),
    ("transcript.jsonl", '{"ref": "f.jpg", "audio": "a.wav", "transcript": true}\n', "transcript must be a text path"),
    ("name.jsonl", '{"ref": "f.jpg", "audio": "a.wav", "name": 3}\n', "name must be a text path"),
])  # fmt: skip
def test_probe_bad_batch_job_lists(tmp_path, name, text, needle):
    """Each gave exit 1 (AttributeError, UnicodeDecodeError, TypeError) before any item ran."""
    result = _batch(_list(tmp_path, name, text))
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    assert needle in _one_error(result)


def test_probe_bad_batch_two_items_one_output_folder(tmp_path, speech, example_face):
    """clip.wav and clip.mp3 both became clip.mp4: "2 rendered", one file, exit 0."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for suffix in (".wav", ".mp3"):
        (folder / f"clip{suffix}").write_bytes(speech.read_bytes())  # names matter, not content: refused before decoding
    result = _batch(folder, "--ref", example_face, "--overwrite")
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    line = _one_error(result)
    assert "clip.mp3" in line and "clip.wav" in line and "clip.mp4" in line and "explicit out" in line
    assert sorted(p.name for p in folder.iterdir()) == ["clip.mp3", "clip.wav"]


def test_probe_bad_batch_two_items_one_output_job_list(tmp_path):
    jobs = _list(tmp_path, "jobs.jsonl", '{"ref": "f.jpg", "audio": "a.wav", "out": "x.mp4", "name": "first"}\n'
                                         '{"ref": "f.jpg", "audio": "b.wav", "out": "sub/../x.mp4", "name": "second"}\n')
    result = _batch(jobs)
    assert result.exit_code == ExitCode.USAGE, result.output
    line = _one_error(result)
    assert "first" in line and "second" in line and "both write" in line


def test_probe_bad_batch_output_over_its_own_input(tmp_path):
    from talkcli.errors import UsageError
    from talkcli.jobs.batch import plan_batch

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "talk.mp4").write_bytes(b"a video whose audio is the speech")
    with pytest.raises(UsageError, match="over its own audio"):
        plan_batch(folder, tmp_path / "face.jpg", None, None)
    jobs = _list(tmp_path, "jobs.csv", "ref,audio,out\nface.jpg,a.mp4,a.mp4\n")
    with pytest.raises(UsageError, match="over its own audio"):
        plan_batch(jobs, None, None, None)


def test_probe_bad_batch_rerun_in_place_ignores_earlier_output(tmp_path):
    """clip.mp4 beside clip.wav is the earlier run's output, not a second item writing clip.mp4."""
    from talkcli.errors import UsageError
    from talkcli.jobs.batch import plan_batch

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "clip.wav").write_bytes(b"RIFF")
    (folder / "clip.mp4").write_bytes(b"rendered before")
    items = plan_batch(folder, tmp_path / "face.jpg", None, None)
    assert [(it.audio.name, it.out.name) for it in items] == [("clip.wav", "clip.mp4")]
    # Into another folder clip.mp4 is an input again, and it and clip.wav would both write elsewhere/clip.mp4.
    with pytest.raises(UsageError, match="both write"):
        plan_batch(folder, tmp_path / "face.jpg", None, tmp_path / "elsewhere")


# -- eval -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["video", "real"])
def test_probe_bad_eval_text_file_named_jpg(tmp_path, how):
    """ffmpeg cannot decode the file under measurement: exit 7 (an encode failure) before, exit 4 now."""
    text = tmp_path / "photo.jpg"
    text.write_text("hello, this is not an image\n" * 10)
    args = [str(text)] if how == "video" else ["--real", str(text)]
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == ExitCode.INPUT == 4, result.output
    assert "cannot decode" in _one_error(result)
