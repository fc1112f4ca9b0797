"""The alternative transcript aligner, measured against the one `talk` ships.

Issue #17 named two ways to time another language's phones without an
acoustic model of that language:

- (shipped) eSpeak NG's pronunciation mapped to ARPAbet and force-aligned by
  pocketsphinx's en-us models (``talkcli.audio.multilingual``);
- (this file) DTW between the speech and eSpeak NG's own rendering of the
  text, whose phone timings are exact: MFCCs of both (25 ms windows, 10 ms
  hop, per-utterance mean and variance normalisation), the cheapest monotonic
  path between them, and each template phone carried over along the path.

    python benchmarks/lang_dtw.py DATA_DIR --pred OUT_DIR [--langs es,fr] [--noise-db -60]
    python /work/shared/bench/visemes/score.py --gt DATA_DIR/es --pred OUT_DIR/es

DATA_DIR is what ``benchmarks/languages.py make`` writes (``<lang>/uNN.wav``,
``uNN.txt``, ``uNN.json``). Predictions are frame classes at 25 fps, made
the way ``talk cues`` makes them (``talkcli.motion.cues.frame_classes``), so
the scores compare like with like. The template is eSpeak's plain voice for
the language at its default rate and pitch; the bench's speech uses other
voices, rates and pitches.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from numba import njit

HOP = 160
WIN = 400
N_MELS = 40
N_MFCC = 13


def _mel_matrix(n_fft: int = 512, rate: int = 16000) -> np.ndarray:
    def mel(f):
        return 2595 * np.log10(1 + f / 700)

    pts = 700 * (10 ** (np.linspace(mel(60), mel(7600), N_MELS + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(n_fft, 1 / rate)
    m = np.zeros((N_MELS, len(bins)), np.float32)
    for k in range(N_MELS):
        lo, c, hi = pts[k], pts[k + 1], pts[k + 2]
        m[k] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return m


_MEL = _mel_matrix()


def mfcc(x: np.ndarray) -> np.ndarray:
    """(frames, 2 * N_MFCC) MFCCs and deltas, normalised per utterance, one frame per 10 ms."""
    from scipy.fft import dct

    n = len(x) // HOP
    pad = np.pad(x.astype(np.float32), (WIN // 2, WIN))
    idx = np.arange(n)[:, None] * HOP + np.arange(WIN)[None, :]
    spec = np.abs(np.fft.rfft(pad[idx] * np.hamming(WIN).astype(np.float32), 512, axis=1)) ** 2
    c = dct(np.log(spec @ _MEL.T + 1e-8), type=2, axis=1, norm="ortho")[:, :N_MFCC]
    d = np.gradient(c, axis=0)
    f = np.concatenate([c, d], axis=1)
    return ((f - f.mean(0)) / (f.std(0) + 1e-6)).astype(np.float32)


@njit(cache=True)
def _dtw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Template frame -> speech frame (the first speech frame the cheapest path pairs it with)."""
    n, m = a.shape[0], b.shape[0]
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = 0.0
            for k in range(a.shape[1]):
                t = a[i - 1, k] - b[j - 1, k]
                d += t * t
            d = np.sqrt(d)
            acc[i, j] = d + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    out = np.zeros(n, np.int64)
    i, j = n, m
    while i > 0 and j > 0:
        out[i - 1] = j - 1
        best = min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        if acc[i - 1, j - 1] == best:
            i, j = i - 1, j - 1
        elif acc[i - 1, j] == best:
            i -= 1
        else:
            j -= 1
    return out


def template(text: str, voice: str):
    """eSpeak's plain rendering of ``text`` at 16 kHz and its phones [(ipa, start_s, end_s)], each
    stop's silent closure billed to the stop (as the bench's ground truth does)."""
    from scipy.signal import resample_poly

    from talkcli.audio.espeak import espeak

    syn = espeak().synthesize(text, voice)
    x = resample_poly(syn.samples, 320, 441).astype(np.float32)
    rate = syn.rate
    phones = [[p.ipa, p.start / rate, p.end / rate] for p in syn.phones]
    e = np.array([np.sqrt(np.mean(x[i : i + 32] ** 2)) for i in range(0, len(x), 32)]) + 1e-6
    quiet = 20 * np.log10(e) < 20 * np.log10(e.max()) - 35
    for k in range(1, len(phones)):
        if phones[k][0].strip("ˈˌ") in ("p", "b", "t", "d", "k", "ɡ", "g", "tʃ", "ts"):
            s = int(phones[k][1] * 16000) // 32
            lo = int((phones[k - 1][1] + 0.02) * 16000) // 32
            while s - 1 > lo and quiet[s - 1]:
                s -= 1
            phones[k][1] = phones[k - 1][2] = s * 32 / 16000
    return x, phones


def dtw_phones(samples: np.ndarray, text: str, voice: str):
    """The speech's phones (talkcli ``Phone``s, ARPAbet names) by DTW against eSpeak's template."""
    from talkcli.audio.ipa import arpabet
    from talkcli.audio.phonemes import Phone

    tx, tphones = template(text, voice)
    path = _dtw(mfcc(tx), mfcc(samples))
    out = []
    for ipa, s, e in tphones:
        names = arpabet(ipa) if ipa else ["SIL"]
        a = path[min(len(path) - 1, int(s * 100))] / 100
        b = path[min(len(path) - 1, max(int(s * 100), int(e * 100) - 1))] / 100 + 0.01
        if names and b > a:
            out.append(Phone(names[0], a, b))
    return out


def main(argv=None) -> None:
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.multilingual import voice_for
    from talkcli.audio.plan import frame_count
    from talkcli.motion.cues import frame_classes

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--pred", type=Path, required=True)
    ap.add_argument("--langs", default=None)
    ap.add_argument("--noise-db", type=float, default=None)
    a = ap.parse_args(argv)
    langs = a.langs.split(",") if a.langs else sorted(p.name for p in a.data.iterdir() if p.is_dir())
    for lang in langs:
        cpu, audio_s = 0.0, 0.0
        (a.pred / lang).mkdir(parents=True, exist_ok=True)
        for wav in sorted((a.data / lang).glob("*.wav")):
            x = np.asarray(decode_audio(wav).samples, np.float32)
            if a.noise_db is not None:
                x = x + np.random.default_rng(0).standard_normal(len(x)).astype(np.float32) * 10 ** (a.noise_db / 20)
            t = time.process_time()
            phones = dtw_phones(x, wav.with_suffix(".txt").read_text(encoding="utf-8"), voice_for(lang))
            cpu += time.process_time() - t
            audio_s += len(x) / 16000
            frames = frame_classes(phones, frame_count(len(x), 16000, 25), 25)
            (a.pred / lang / f"{wav.stem}.json").write_text(json.dumps({"fps": 25, "frames": frames}))
        print(f"{lang}: {audio_s:.0f} s of speech, {audio_s / max(cpu, 1e-9):.1f}x real time (one core)")


if __name__ == "__main__":
    main()
