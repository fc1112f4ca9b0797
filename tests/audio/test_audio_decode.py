import subprocess

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate, resample_poly

from talkcli.audio import decode as decode_module
from talkcli.audio.decode import ANALYSIS_RATE, decode_audio, decoded_is_silent
from talkcli.errors import AudioError, ExitCode
from talkcli.mux.ffmpeg import find_ffmpeg, parse_stream_header

SOURCE_RATE = 44100
DURATION_S = 1.5
N_EXPECTED = int(DURATION_S * ANALYSIS_RATE)  # 24000 samples at 16 kHz
LOSSY_TOLERANCE = int(0.05 * ANALYSIS_RATE)  # codecs may pad: +-50 ms of length
MAX_LAG = int(0.005 * ANALYSIS_RATE)  # an untrimmed mp3/aac priming delay is >= 25 ms


def _stereo_signal() -> np.ndarray:
    """(n, 2) float32 at 44.1 kHz: 220 Hz + 660 Hz under syllable-like bursts; right channel at 0.6x."""
    t = np.arange(int(DURATION_S * SOURCE_RATE)) / SOURCE_RATE
    envelope = sum(np.exp(-0.5 * ((t - c) / w) ** 2) for c, w in [(0.2, 0.06), (0.45, 0.1), (0.62, 0.04), (0.9, 0.12), (1.25, 0.08)])
    x = 0.4 * envelope * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t))
    return np.stack([x, 0.6 * x], axis=1).astype(np.float32)


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """The same 1.5 s clip as wav, flac, mp3, m4a, ogg and the audio track of an mp4."""
    d = tmp_path_factory.mktemp("clips")
    signal = _stereo_signal()
    sf.write(d / "clip.wav", signal, SOURCE_RATE, subtype="PCM_16")
    sf.write(d / "clip.flac", signal, SOURCE_RATE)
    ffmpeg = find_ffmpeg()

    def encode(out, *args):
        subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *args, str(d / out)], check=True)

    wav = str(d / "clip.wav")
    encode("clip.mp3", "-i", wav, "-c:a", "libmp3lame", "-b:a", "128k")
    encode("clip.m4a", "-i", wav, "-c:a", "aac", "-b:a", "128k")
    encode("clip.ogg", "-i", wav, "-c:a", "libvorbis", "-q:a", "5")
    encode(
        "clip.mp4",
        "-f", "lavfi", "-i", f"color=c=gray:s=64x64:d={DURATION_S}:r=25", "-i", wav,
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", "-shortest",
    )  # fmt: skip
    encode("video_only.mp4", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=0.2:r=25", "-c:v", "libx264", "-preset", "ultrafast")
    return {"signal": signal, **{p.name: p for p in d.iterdir()}}


@pytest.fixture(scope="session")
def wav_decoded(clips):
    return decode_audio(clips["clip.wav"])


def _align(decoded: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Lag (samples; positive = ``decoded`` late) maximising cross-correlation, and the correlation there."""
    a, b = decoded.astype(np.float64), reference.astype(np.float64)
    c = correlate(a, b, mode="full", method="fft")
    lags = np.arange(-len(b) + 1, len(a))
    window = np.abs(lags) <= LOSSY_TOLERANCE
    lag = int(lags[window][np.argmax(c[window])])
    a, b = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
    n = min(len(a), len(b))
    return lag, float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_wav_decodes_to_16k_mono_float32_average_of_channels(clips, wav_decoded):
    out = wav_decoded
    assert out.sample_rate == ANALYSIS_RATE
    assert out.samples.dtype == np.float32 and out.samples.ndim == 1
    assert out.samples.size == N_EXPECTED
    assert out.duration_s == pytest.approx(DURATION_S)
    assert (out.source_sample_rate, out.source_channels) == (SOURCE_RATE, 2)
    assert out.source == clips["clip.wav"]
    # Independent reference: mean of the channels, polyphase-resampled 44.1k -> 16k.
    reference = resample_poly(clips["signal"].mean(axis=1).astype(np.float64), 160, 441)
    assert np.corrcoef(out.samples, reference)[0, 1] > 0.9999
    rms_ratio = np.sqrt(np.mean(out.samples.astype(np.float64) ** 2) / np.mean(reference**2))
    assert rms_ratio == pytest.approx(1.0, abs=0.01)  # (L + R) / 2, not ffmpeg's +3 dB (L + R) / sqrt(2)


@pytest.mark.parametrize(
    ("name", "min_corr", "length_tol"),
    [
        ("clip.flac", 0.999, 0),
        ("clip.mp3", 0.99, LOSSY_TOLERANCE),
        ("clip.m4a", 0.99, LOSSY_TOLERANCE),
        ("clip.ogg", 0.99, LOSSY_TOLERANCE),
        ("clip.mp4", 0.99, LOSSY_TOLERANCE),
    ],
)
def test_formats_decode_like_the_wav(clips, wav_decoded, name, min_corr, length_tol):
    out = decode_audio(clips[name])
    assert out.sample_rate == ANALYSIS_RATE
    assert out.samples.dtype == np.float32 and out.samples.ndim == 1
    assert abs(out.samples.size - N_EXPECTED) <= length_tol
    assert out.duration_s == pytest.approx(DURATION_S, abs=length_tol / ANALYSIS_RATE + 1e-9)
    assert out.source_sample_rate == SOURCE_RATE
    assert out.source_channels == 2
    lag, corr = _align(out.samples, wav_decoded.samples)
    assert abs(lag) <= MAX_LAG, "decoder left the codec's priming delay in: audio would lag the lips"
    assert corr >= min_corr


def test_swr_fallback_matches_soxr(clips, wav_decoded, monkeypatch):
    # A TALK_FFMPEG build without libsoxr gets ffmpeg's own resampler.
    monkeypatch.setattr(decode_module, "_has_soxr", lambda binary: False)
    out = decode_audio(clips["clip.wav"])
    assert out.samples.size == N_EXPECTED
    assert np.corrcoef(out.samples, wav_decoded.samples)[0, 1] > 0.999


def test_bundled_ffmpeg_has_soxr():
    assert decode_module._has_soxr(find_ffmpeg())


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="audio file not found") as info:
        decode_audio(tmp_path / "nope.wav")
    assert info.value.exit_code == ExitCode.INPUT
    assert info.value.hint


def test_directory(tmp_path):
    with pytest.raises(AudioError, match="directory") as info:
        decode_audio(tmp_path)
    assert info.value.exit_code == ExitCode.INPUT


def test_text_file_named_wav_carries_ffmpeg_error(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("these are not audio samples\n")
    with pytest.raises(AudioError, match="Invalid data found") as info:
        decode_audio(fake)
    assert info.value.exit_code == ExitCode.INPUT
    assert "\n" not in str(info.value)


def test_colon_in_file_name_is_not_a_protocol(clips, tmp_path, wav_decoded):
    odd = tmp_path / "take:2.wav"
    odd.write_bytes(clips["clip.wav"].read_bytes())
    assert np.array_equal(decode_audio(odd).samples, wav_decoded.samples)


def test_video_without_audio(clips):
    with pytest.raises(AudioError, match="has no audio stream") as info:
        decode_audio(clips["video_only.mp4"])
    assert info.value.exit_code == ExitCode.INPUT


def test_zero_sample_wav(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="holds no audio samples") as info:
        decode_audio(empty)
    assert info.value.exit_code == ExitCode.INPUT


def test_decoded_is_silent(wav_decoded):
    assert not decoded_is_silent(wav_decoded.samples)
    assert decoded_is_silent(np.zeros(16000, dtype=np.float32))
    assert decoded_is_silent(np.zeros(0, dtype=np.float32))
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert decoded_is_silent(noise * 10 ** (-70 / 20))  # RMS -70 dBFS
    assert not decoded_is_silent(noise * 10 ** (-50 / 20))  # RMS -50 dBFS
    assert decoded_is_silent(noise * 10 ** (-50 / 20), threshold_dbfs=-40.0)


@pytest.mark.parametrize(
    ("line", "rate", "channels"),
    [
        ("  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, stereo, s16, 1411 kb/s", 44100, 2),
        ("  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 384 kb/s", 48000, 6),
        ("  Stream #0:0: Audio: mp3 (mp3float), 22050 Hz, mono, fltp, 64 kb/s", 22050, 1),
        ("  Stream #0:0: Audio: pcm_s24le, 96000 Hz, 3 channels, s32 (24 bit), 6912 kb/s", 96000, 3),
        ("  Stream #0:0: Audio: opus, 48000 Hz, 3.1.2, fltp", 48000, None),
    ],
)
def test_source_stream_info_from_ffmpeg_header(line, rate, channels):
    stderr = f"Input #0, x, from 'a':\n{line}\nOutput #0, f32le, to 'pipe:':\n  Stream #0:0: Audio: pcm_f32le, 16000 Hz, mono, flt\n"
    audio = parse_stream_header(stderr)["audio"]
    assert (audio["sample_rate"], audio["channels"] or None) == (rate, channels)
