"""Multilingual mouth-timing benchmark (issue #17): synthetic speech with exact phone timings in
es, fr, de, it, pt, ja (kana) and cmn (hanzi), scored like the English bench
(../shared/bench/visemes) by its scorer.

    python benchmarks/languages.py make OUT_DIR
    python benchmarks/languages.py run DATA_DIR [--langs es,fr,...] [--conditions plain,transcript,plain-noise,transcript-noise]
                                   [--nuclei plain|all|none] [--jobs 2] [--keep DIR] [--json OUT]
    python benchmarks/languages.py real [AUDIO ...] [--lang de]

``make`` writes ``OUT/<lang>/uNN.wav`` (16 kHz mono, resampled from eSpeak's 22050 Hz with
``resample_poly(x, 320, 441)``), ``uNN.txt`` (the sentence) and ``uNN.json`` (``id, lang, text,
voice, rate_wpm, pitch, pitch_range, duration_s, sample_rate, synth, phoneme_set: "class"`` and
``segments: [{class, start_s, end_s, ipa, arpabet[, event_s]}]``, event_s: eSpeak's own event where the
stop closure moved the start), deterministically; plus ``es/long45`` (a
45 s paragraph, for long-audio chunking). Every utterance comes from an eSpeak voice *variant*
(``es+f2``, ``fr+klatt3`` ...) at 130-200 wpm and a varied pitch: never the plain voice at its
default rate, which an aligner may use as its template.

Ground truth. Each eSpeak phone event starts a segment that ends where the next begins; an
empty IPA is a pause (class ``silence``). The class is ``phone_class`` of the first ARPAbet
phone of ``talkcli.audio.ipa.arpabet(ipa)``: the class table is talkcli's own IPA mapping,
not an independent phonetic judgement (Spanish β maps to B, so it is ``closed``, though
eSpeak makes it an approximant with no silent closure).

Stop closures. eSpeak's events bill a stop's silent closure to the sound before it: the event
of p, b, t, d, k, g (c, ɟ, q, ʈ, ɖ and affricates) comes at the release. Like the English
bench, the closure is moved to the stop itself: in 2 ms frames of the 22050 Hz waveform, the
stop's start moves back from its event over the frames lying more than 20 dB below the
previous phone's 90th-percentile frame level (one louder frame between two quiet ones is
bridged: a glottal pulse of Klatt voices), never so far that the previous phone keeps less
than 20 ms. Where a pause comes between (eSpeak puts short pause events before many
Mandarin syllables) the same walk crosses it, but the closure is held to the utterance's
median closure measured without a pause (40 ms when there is none); at the very start, where
everything before the burst is digital silence, the closure is that median.
Voiced stops with a voice bar, or none at all (Japanese intervocalic b), keep their event.

``run``: per language and condition, ``talk cues AUDIO --lang LANG [--transcript T] --fps 25
-f json`` in-process in worker processes (as benchmarks/visemes.py; ``-noise``: a seeded white
floor at -60 dBFS RMS added first), scored with the bench's scorer; speed = audio s / CPU s of
the cues call (each worker first makes one untimed warm-up call, so imports and loading are
not billed to the first file). For the conditions without a transcript the syllable check runs too: the real
motion path (driver -> MotionGenerator over a BlockPlan) gives the jaw opening per frame;
peaks are ``scipy.signal.find_peaks(jaw, prominence=0.05)``; nuclei are maximal runs of
ground-truth vowel phones. Reported: nuclei with a peak inside their frames +-1 (target >=
0.8), peaks outside every nucleus +-1 frame (target <= 0.2), and the longest plateau (frames
with jaw > 0.2 staying within 0.02).

``real``: real speech without a transcript or ground truth (default the German LibriVox
clip): jaw peaks per second of audio and of speech (speech: 40 ms frames more than 10 dB above the clip's
10th-percentile level), the longest plateau and the median of the longest plateau per 10 s,
and the speed of ``talk cues`` (after an untimed warm-up call).

Targets (issue #17), with a transcript: closure recall >= 0.95 (+-1 frame), frame accuracy >=
0.75 in every language, no failures; without: nuclei with a peak >= 0.8, peaks outside a
vowel <= 0.2, closure recall >= 0.6; speed >= 20x real time on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from visemes import load_scorer, noisy_copy, print_table, run_one  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCORER = SHARED / "bench" / "visemes" / "score.py"
REAL = [SHARED / "real-inputs" / "audio" / "de_librivox_simplicissimus_68s.mp3"]

SENTENCES = {
    "es": [
        "Pablo me pidió un poco más de pan blanco, pero el panadero ya había cerrado la puerta.",
        "Mi madre compra manzanas y plátanos en el mercado bajo el puente, cada mañana de primavera.",
        "El barco pequeño pasó por el puerto de Palma, y los pescadores miraban el mar sin miedo.",
        "Bebimos bastante agua después del partido, porque el campo estaba muy seco y hacía mucho calor.",
        "Ambos hombres buscaban palabras amables para empezar el primer capítulo de su propio libro. Nadie sabía por dónde empezar.",
        "Por la tarde, Beatriz pinta montañas moradas y bosques profundos en un papel muy grande. Su hermano mira y aplaude.",
    ],
    "fr": [
        "Le petit bateau blanc part demain matin du port de Marseille, avec mon père et ma mère. Le voyage sera beau.",
        "Pierre a besoin de pommes, de beurre et de pain pour préparer un bon gâteau ce samedi. Il aime beaucoup la pâtisserie.",
        "Nous avons mangé une bonne soupe de poisson près de la plage, puis nous sommes partis en bus. Le repas était parfait.",
        "Mon meilleur ami habite dans un immeuble moderne, au bout du boulevard, en face du musée. Il prend le métro tous les matins.",
        "Au printemps, les abeilles butinent les belles fleurs du jardin public pendant que les enfants jouent. Le parc est plein de bruit.",
        "Paul emporte toujours un parapluie bleu, même quand le ciel semble parfaitement beau. Il a peur de la pluie.",
    ],
    "de": [
        "Peter bringt morgen frisches Brot und ein paar Äpfel vom Markt mit nach Hause. Dann machen wir eine Pause.",
        "Meine Mutter backt am Sonntag immer einen großen Pflaumenkuchen für die ganze Familie. Alle bekommen ein Stück.",
        "Im Sommer baden wir oft im blauen Meer und bauen Burgen aus nassem Sand am Strand. Mein Bruder bringt Eimer mit.",
        "Der Bus nach München fährt pünktlich um neun Uhr vom Bahnhof ab, bitte beeilen Sie sich. Der nächste kommt erst am Abend.",
        "Paula malt bunte Bilder von Bergen, Blumen und Bäumen, während ihr Bruder Musik macht.",
        "Wir haben im Park einen kleinen Hund gesehen, der mit einem Ball spielte und laut bellte.",
    ],
    "it": [
        "Paolo ha comprato del pane buono e una bottiglia di vino per la cena di stasera. Poi ha preparato un bel piatto di frutta.",
        "Mia madre prepara sempre la pasta al pomodoro con basilico fresco e un po' di burro. Il profumo riempie la casa.",
        "Il piccolo battello parte dal porto di Palermo ogni mattina, prima delle nove. I passeggeri comprano il biglietto al bar.",
        "Bambini e bambine giocano nel parco vicino al palazzo, mentre i nonni parlano sulla panchina.",
        "Abbiamo passato una bella primavera in montagna, tra boschi, prati e piccoli paesi.",
        "Per imparare bene una lingua bisogna parlare molto e ascoltare musica ogni giorno.",
    ],
    "pt": [
        "O meu pai bebe um copo de leite morno todas as manhãs, antes de partir para o trabalho. Depois apanha o autocarro.",
        "A pequena barca branca passou pela ponte e parou perto da praia ao fim da tarde. Os pescadores ficaram muito contentes.",
        "Maria comprou maçãs, bananas e um bolo de laranja na padaria do bairro. Depois foi para casa a pé.",
        "Os meninos brincam no parque com uma bola amarela, enquanto a mãe lê um livro.",
        "Pedro pediu ao empregado mais pão e um prato de peixe com batatas cozidas. O almoço estava muito bom.",
        "Em maio, as árvores do jardim público ficam cheias de flores bonitas e perfumadas. Todos passeiam por lá.",
    ],
    "ja": [
        "ぼくはまいにちパンとぎゅうにゅうをたべてから、バスでがっこうへいきます。ともだちもいっしょです。",
        "おばあさんはやまのふもとで、ちいさなはたけとみかんのきをまもっています。",
        "はるになると、まちのこうえんには、ピンクのはなが、いっぱいさきます。みんなでおべんとうをたべます。",
        "あめがふっているので、ぼうしとかさをもって、ゆっくりあるきましょう。みちはとてもすべりやすいです。",
        "ともだちといっしょに、うみのそばのみせで、まぐろとごはんをたべました。とてもおいしかったです。",
        "あしたのあさ、ははといもうとは、ひこうきでほっかいどうへむかいます。ぼくはるすばんです。",
    ],
    "cmn": [
        "爸爸每天早上八点半坐公共汽车去办公室上班。",
        "妈妈买了一斤苹果和两瓶牛奶，还有一包面包。",
        "我们明天不去北京，因为朋友们都要来我家玩。",
        "宝宝喜欢在公园里跑步，也喜欢看美丽的蝴蝶。妈妈每天陪他玩。",
        "这本书很便宜，不过我已经把钱包忘在门口了。麻烦你帮我拿一下。",
        "冬天的时候，北方的天气比南方冷得多，风也很大。我们把门关好吧。",
    ],
}
LONG = {
    "es": (
        "Mi abuelo vivía en un pueblo pequeño al pie de las montañas. Cada mañana bajaba al mercado para "
        "comprar pan, miel y membrillo. Por el camino saludaba a los vecinos, que le preguntaban por su huerto "
        "y por sus abejas. Él siempre respondía con paciencia y buen humor, aunque a veces hablaba más de la "
        "cuenta. Cuando empezaba a llover, se sentaba bajo el porche de la biblioteca y miraba pasar a los niños "
        "con sus mochilas. Después volvía a casa, preparaba un plato de sopa caliente y escribía en un cuaderno "
        "viejo todo lo que había visto. Mi madre guarda ese cuaderno en una caja de madera, y de vez en cuando "
        "lo abrimos para recordar aquellos tiempos tan bonitos."
    ),
}
# Voice variants (espeak-ng-data/voices/!v), rates (wpm), pitches (0-99) and pitch ranges per
# utterance; rotated per language so each language gets a different mix.
VARIANTS = ("f2", "m3", "klatt", "f4", "m6", "klatt3", "m1", "f1", "klatt4", "m7")
RATES = (130, 145, 160, 175, 190, 200)
PITCHES = (32, 45, 58, 70, 40, 64)
RANGES = (40, 70, 55, 85, 60, 30)
VOICE_LANG = {"pt": ("pt", "pt", "pt-br", "pt", "pt-br", "pt")}  # European and Brazilian voices
OUT_RATE = 16000
FRAME_S = 0.002  # the stop-closure energy frames
CLOSURE_DB = 20.0  # a closure lies this far below the previous phone's 90th-percentile level
MIN_PREV_S = 0.020  # the previous phone keeps at least this much
PROMINENCE = 0.05  # jaw peaks: scipy find_peaks prominence (jaw in 0..1)
STOP_IPA = set("pbtdkɡgcɟqʈɖ")
VOWEL_ARPABET = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


# ---------------------------------------------------------------- make


def _bare(ipa: str) -> str:
    return ipa.lstrip("ˈˌ")


def frame_db(x: np.ndarray, h: int) -> np.ndarray:
    """RMS level (dBFS) of consecutive ``h``-sample frames of ``x``."""
    n = len(x) // h
    power = (x[: n * h].astype(np.float64).reshape(n, h) ** 2).mean(axis=1)
    return 10 * np.log10(power + 1e-12)


def _low_stretch(db: np.ndarray, event: int, bound: int, thr: float) -> int:
    """First frame of the quiet run ending at frame ``event`` (one loud frame bridged), >= ``bound``."""
    k = event
    while k - 1 >= bound and (db[k - 1] < thr or (k - 2 >= bound and db[k - 2] < thr)):
        k -= 1
    return k


def _segments(phones: list) -> list[list]:
    """``[[ipa, start, end]]`` of the phones that last; a lone modifier (Japanese ``ʲ`` after ɡ
    or n comes as its own event) joins the phone before it."""
    segs: list[list] = []
    for p in phones:
        if p.end <= p.start:
            continue
        if segs and p.ipa and not p.ipa.strip("ʲʷʰːˈˌ"):
            segs[-1][2] = p.end
        else:
            segs.append([p.ipa, p.start, p.end, p.start])
    return segs


def _closure_start(db: np.ndarray, h: int, prev: list, start: int, sr: int) -> tuple[int, str]:
    """Where the closure of the stop whose event is at sample ``start`` begins (module docstring)."""
    ev = start // h
    a = prev[1] // h
    ref = np.percentile(db[a:ev], 90) if ev - a >= 3 else db[max(0, ev - 10) : ev].max()
    bound = -(-(prev[1] + int(MIN_PREV_S * sr)) // h)
    k = _low_stretch(db, ev, bound, ref - CLOSURE_DB)
    return (k * h if ev - k >= 2 else start), ("bound" if k == bound else "energy")


def _move_start(segs: list[list], i: int, new: int) -> None:
    """Start segment ``i`` at sample ``new``; what lay before it ends there (pauses may vanish)."""
    for k in range(i - 1, -1, -1):
        if segs[k][1] >= new:
            segs[k][1] = segs[k][2] = new
        elif segs[k][2] > new:
            segs[k][2] = new
        else:
            break
    segs[i][1] = new


def close_stops(phones: list, x: np.ndarray, sr: int) -> tuple[list[list], list[dict]]:
    """``[[ipa, start, end]]`` (samples) with each stop's closure moved onto the stop (module
    docstring), and one record per stop (shift in ms, how it was found) for the report."""
    segs = _segments(phones)
    h = int(round(FRAME_S * sr))
    db = frame_db(x, h)
    log, pending = [], []
    for i, (ipa, start, _, _) in enumerate(segs):
        if not ipa or _bare(ipa)[:1] not in STOP_IPA:
            continue
        j = i - 1
        while j >= 0 and not segs[j][0]:
            j -= 1
        if j < i - 1 or j < 0:  # a pause (or the start) before it: measured after the others
            pending.append((i, j))
            continue
        new, how = _closure_start(db, h, segs[j], start, sr)
        log.append({"ipa": ipa, "shift_ms": (start - new) / sr * 1000, "how": how})
        _move_start(segs, i, new)
    measured = [r["shift_ms"] for r in log if r["shift_ms"] > 0]
    cap = int((np.median(measured) if measured else 40.0) / 1000 * sr)
    for i, j in pending:
        start = segs[i][1]
        walk = _closure_start(db, h, segs[j], start, sr)[0] if j >= 0 else 0
        new = max(walk, start - cap, 0)
        log.append({"ipa": segs[i][0], "shift_ms": (start - new) / sr * 1000, "how": "pause"})
        _move_start(segs, i, new)
    return [s for s in segs if s[2] > s[1]], log


def phone_class_of(ipa: str) -> tuple[str, list[str] | None]:
    """(class, ARPAbet phones) of one eSpeak IPA phone; a pause is silence, unknown IPA other."""
    from talkcli.audio.ipa import arpabet
    from talkcli.motion.visemes import phone_class

    if not ipa:
        return "silence", []
    arpa = arpabet(ipa)
    return (phone_class(arpa[0]) if arpa else "other"), arpa


def _seed(e, seed: int) -> None:
    """Seed the noise of breathy variants (f2 ...): libespeak-ng draws it from libc ``rand()``,
    seeded from the clock at start-up. With a seed per item and the items made in a fixed order
    in one process (the noise filter's state carries from one call to the next), ``make`` is
    reproducible."""
    import ctypes

    ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    fn = e._lib.espeak_ng_SetRandSeed  # the binding keeps its library private; this is a bench-only knob
    fn.argtypes = [ctypes.c_long]
    fn(seed)


def synth_item(lang: str, stem: str, text: str, voice: str, rate: int, pitch: int, prange: int) -> tuple:
    """(16 kHz samples, the uNN.json dict, closure log) of one utterance."""
    from scipy.signal import resample_poly

    from talkcli.audio.espeak import espeak

    e = espeak()
    _seed(e, zlib.crc32(f"{lang}/{stem}".encode()))
    syn = e.synthesize(text, voice, rate, pitch, prange)
    segs, log = close_stops(syn.phones, syn.samples, syn.rate)
    y = resample_poly(syn.samples.astype(np.float64), 320, 441).astype(np.float32)
    out = []
    if segs and segs[0][1] > 0:
        out.append({"class": "silence", "start_s": 0.0, "end_s": round(segs[0][1] / syn.rate, 6), "ipa": ""})
    for ipa, start, end, event in segs:
        cls, arpa = phone_class_of(ipa)
        out.append({"class": cls, "start_s": round(start / syn.rate, 6), "end_s": round(end / syn.rate, 6),
                    "ipa": ipa, "arpabet": " ".join(arpa or [])})  # fmt: skip
        if event != start:
            out[-1]["event_s"] = round(event / syn.rate, 6)  # eSpeak's event: the stop's release
    meta = {"id": stem, "lang": lang, "text": text, "voice": voice, "rate_wpm": rate, "pitch": pitch,
            "pitch_range": prange, "duration_s": round(len(y) / OUT_RATE, 6), "sample_rate": OUT_RATE,
            "synth": {"engine": f"espeak-ng {e.version} (espeakng-loader)", "native_rate": syn.rate,
                      "closure_route": "energy: stop start moved back over the silent closure"},
            "phoneme_set": "class", "segments": out}  # fmt: skip
    return y, meta, log


def plan_items() -> list[tuple]:
    """Every utterance to make: (lang, stem, text, voice, rate, pitch, pitch range)."""
    items = []
    for li, (lang, sentences) in enumerate(SENTENCES.items()):
        voices = VOICE_LANG.get(lang, (lang,) * len(sentences))
        for k, text in enumerate(sentences):
            j = (k + li) % len(RATES)
            variant = VARIANTS[(k + 3 * li) % len(VARIANTS)]
            items.append((lang, f"u{k:02d}", text, f"{voices[k]}+{variant}", RATES[j], PITCHES[(k + 2 * li) % 6], RANGES[j]))
    for lang, text in LONG.items():
        items.append((lang, "long45", text, f"{lang}+m7", 150, 48, 60))
    return items


def make(out: Path) -> None:
    """Write the bench data under ``out`` and print what the closure correction did."""
    import soundfile as sf

    logs: dict[str, list] = {}
    unknown = []
    for lang, stem, text, voice, rate, pitch, prange in plan_items():
        y, meta, log = synth_item(lang, stem, text, voice, rate, pitch, prange)
        d = out / lang
        d.mkdir(parents=True, exist_ok=True)
        sf.write(d / f"{stem}.wav", y, OUT_RATE, subtype="PCM_16")
        (d / f"{stem}.txt").write_text(text + "\n", encoding="utf-8")
        (d / f"{stem}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        logs.setdefault(lang, []).extend(log)
        unknown += [(lang, s["ipa"]) for s in meta["segments"] if s["ipa"] and not s["arpabet"]]
        print(f"{lang}/{stem} {voice:14s} {rate} wpm pitch {pitch}: {meta['duration_s']:.2f} s", file=sys.stderr)
    rows = []
    for lang, log in logs.items():
        sh = np.array([r["shift_ms"] for r in log if r["how"] != "pause"]) if log else np.zeros(0)
        moved = sh[sh > 0]
        rows.append((lang, len(log), int((sh == 0).sum()), len(moved),
                     float(np.median(moved)) if len(moved) else None,
                     sum(r["how"] == "bound" for r in log), sum(r["how"] == "pause" for r in log)))  # fmt: skip
    print_table(("lang", "stops", "kept event", "moved", "median shift ms", "at 20 ms bound", "after pause"), rows)
    if unknown:
        print(f"IPA phones talkcli cannot map (class 'other'): {sorted(set(unknown))}")


# ---------------------------------------------------------------- syllables


def jaw_curve(wav: Path, lang: str, fps: int) -> np.ndarray:
    """``(n_frames,)`` jaw opening of the real motion path (no transcript) for ``wav``."""
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.plan import plan_blocks
    from talkcli.config.settings import load_settings
    from talkcli.engines import choose_driver
    from talkcli.job import Models
    from talkcli.timing import Clock

    settings = load_settings(None, {"audio.fps": fps, "audio.lang": lang})
    samples = decode_audio(wav).samples
    driver = choose_driver(settings, samples, None, Models())
    plan = plan_blocks(len(samples), 16000, settings.audio.frame_rate)
    stream = driver.start(plan, None, Clock())
    return np.concatenate([stream.next_block(i).mouth[:, 0] for i in range(plan.n_blocks)])


def nuclei(gt: dict) -> list[tuple[float, float]]:
    """Maximal runs of ground-truth vowel phones (adjacent vowels merged), in seconds."""
    out: list[tuple[float, float]] = []
    for s in gt["segments"]:
        arpa = s.get("arpabet", "").split()
        if not (arpa and arpa[0] in VOWEL_ARPABET and s["class"] in ("open", "mid", "rounded")):
            continue
        if out and abs(out[-1][1] - s["start_s"]) < 1e-6:
            out[-1] = (out[-1][0], s["end_s"])
        else:
            out.append((s["start_s"], s["end_s"]))
    return out


def plateau_s(jaw: np.ndarray, fps: float, tol: float = 0.02, floor: float = 0.2) -> float:
    """Longest run (seconds) of frames with jaw > ``floor`` whose range stays within ``tol``."""
    best, n = 0, len(jaw)
    for i in range(n):
        lo = hi = jaw[i]
        j = i
        while j < n and jaw[j] > floor and max(hi, jaw[j]) - min(lo, jaw[j]) <= tol:
            lo, hi = min(lo, jaw[j]), max(hi, jaw[j])
            j += 1
        best = max(best, j - i)
    return best / fps


def syllable_stats(jaw: np.ndarray, gt: dict, fps: float) -> dict:
    """Counts for: nuclei holding a jaw peak (+-1 frame), peaks outside every nucleus, plateau."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(jaw, prominence=PROMINENCE)
    spans = [(int(np.floor(s * fps)) - 1, int(np.ceil(e * fps)) - 1 + 1) for s, e in nuclei(gt)]
    held = sum(any(a <= p <= b for p in peaks) for a, b in spans)
    outside = sum(not any(a <= p <= b for a, b in spans) for p in peaks)
    return {"nuclei": len(spans), "held": held, "peaks": len(peaks), "outside": outside, "plateau_s": plateau_s(jaw, fps)}


# ---------------------------------------------------------------- run


def warm_up() -> None:
    """Worker initializer: one untimed ``talk cues`` with and without a transcript (imports,
    eSpeak and model loading), so the first timed file does not pay for them."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav, txt = Path(tmp) / "w.wav", Path(tmp) / "w.txt"
        t = np.arange(16000) / 16000
        sf.write(wav, (0.1 * np.sin(2 * np.pi * 150 * t) * (t > 0.3)).astype(np.float32), 16000)
        txt.write_text("pan\n")
        for transcript in (None, txt):
            run_one((wav, transcript, Path(tmp) / "p.json", 25, ["--lang", "es"]))


def run_job(args: tuple) -> dict:
    """Worker: ``talk cues`` (timed, as benchmarks/visemes.py), then the jaw curve when asked."""
    wav, txt, pred, fps, extra, gt_path, nuclei_on = args
    r = run_one((wav, txt, pred, fps, extra))
    if nuclei_on:
        try:
            gt = json.loads(Path(gt_path).read_text(encoding="utf-8"))
            r["syll"] = syllable_stats(jaw_curve(wav, extra[1], fps), gt, fps)
        except Exception as exc:  # noqa: BLE001 - reported, the bench goes on
            r["syll_error"] = repr(exc)
    return r


def _jobs_for(data: Path, lang: str, cond: str, work: Path, a) -> list[tuple]:
    d = data / lang
    stems = sorted(p.stem for p in d.glob("*.json") if (d / f"{p.stem}.wav").exists())
    pred_dir = work / lang / cond
    pred_dir.mkdir(parents=True, exist_ok=True)
    use_txt, noise = cond.startswith("transcript"), cond.endswith("-noise")
    nuclei_on = a.nuclei == "all" or (a.nuclei == "plain" and not use_txt)
    jobs = []
    for k, stem in enumerate(stems):
        wav = d / f"{stem}.wav"
        if noise:
            wav = noisy_copy(wav, pred_dir / f"{stem}.wav", a.noise_db, seed=1000 + k)
        txt = d / f"{stem}.txt" if use_txt else None
        jobs.append((wav, txt, pred_dir / f"{stem}.json", a.fps, ["--lang", lang], d / f"{stem}.json", nuclei_on))
    return jobs


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _rows(lang: str, cond: str, results: list[dict], data: Path, score, vmap, fps: int) -> tuple[list, dict]:
    """Table rows (utterances, long) of one language and condition, and their summaries."""
    d = data / lang
    rows, summ = [], {}
    for label, pick in (("utt", lambda s: s.startswith("u")), ("long", lambda s: s.startswith("long"))):
        res = [r for r in results if pick(r["stem"])]
        if not res:
            continue
        scored = {r["stem"]: score.score_file(json.loads((d / f"{r['stem']}.json").read_text(encoding="utf-8")),
                                              json.loads(Path(r["pred"]).read_text()), vmap, fps, [0, 1])
                  for r in res if r["code"] == 0}  # fmt: skip
        s = score.summarize(scored, vmap, fps, [0, 1]) if scored else None
        audio_s = sum(json.loads((d / f"{r['stem']}.json").read_text(encoding="utf-8"))["duration_s"] for r in res)
        cpu_s = sum(r["cpu_s"] for r in res)
        sy = [r["syll"] for r in res if "syll" in r]
        tot = {k: sum(x[k] for x in sy) for k in ("nuclei", "held", "peaks", "outside")}
        c1 = s["closure"]["tol1"] if s else {}
        row = (lang, cond, label, len(res), sum(r["code"] != 0 for r in res), c1.get("recall"), c1.get("spurious_per_min"),
               s and s["frame_accuracy"], s and s["speech_frame_accuracy"], _ratio(audio_s, cpu_s),
               _ratio(tot["held"], tot["nuclei"]) if sy else None, _ratio(tot["outside"], tot["peaks"]) if sy else None,
               max((x["plateau_s"] for x in sy), default=None))  # fmt: skip
        rows.append(row)
        summ[f"{lang}/{cond}/{label}"] = {"score": s, "audio_s": audio_s, "cpu_s": cpu_s, "syllables": tot if sy else None,
                                          "failed": [r["stem"] for r in res if r["code"] != 0],
                                          "syll_errors": [r["syll_error"] for r in res if "syll_error" in r]}  # fmt: skip
    return rows, summ


HEADER = ("lang", "condition", "set", "files", "fail", "recall+-1", "spur/min", "frame_acc", "speech_acc", "x_rt_cpu",
          "nuclei_peak", "peaks_out", "plateau_s")  # fmt: skip


def run(a) -> None:
    data = a.data.resolve()
    score = load_scorer(a.scorer)
    vmap = score.load_map(str(a.scorer.parent / "viseme_map.json"))
    langs = a.langs.split(",") if a.langs else sorted(p.name for p in data.iterdir() if p.is_dir())
    conds = a.conditions.split(",")
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="langbench_"))
    t0 = time.perf_counter()
    keys = [(lang, cond) for lang in langs for cond in conds]
    jobs = {key: _jobs_for(data, *key, work, a) for key in keys}
    with ProcessPoolExecutor(a.jobs, initializer=warm_up) as pool:
        futures = {key: [pool.submit(run_job, j) for j in js] for key, js in jobs.items()}
        rows, summaries = [], {}
        for key in keys:
            results = [dict(f.result(), pred=str(j[2])) for f, j in zip(futures[key], jobs[key])]
            r, s = _rows(*key, results, data, score, vmap, a.fps)
            rows += r
            summaries.update(s)
            fails = [x["stem"] for x in results if x["code"] != 0]
            print(f"[{key[0]} {key[1]}] {len(results)} files, failed {fails or 'none'} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)  # fmt: skip
    print_table(HEADER, rows)
    print(f"\nwall {time.perf_counter() - t0:.0f} s with {a.jobs} workers")
    if a.json:
        a.json.write_text(json.dumps(summaries, indent=1, default=float))
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- real speech


def speech_seconds(x: np.ndarray, sr: int = 16000) -> float:
    """Seconds of 40 ms frames more than 10 dB above the clip's 10th-percentile level (its noise
    floor): a crude speech detector."""
    db = frame_db(np.asarray(x, dtype=np.float32), int(0.04 * sr))
    return float((db > np.percentile(db, 10) + 10).sum() * 0.04)


def real(a) -> None:
    """Real speech, no transcript, no ground truth: jaw peaks per speech second, plateaus, speed."""
    from talkcli.audio.decode import decode_audio

    rows = []
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        for audio in a.audio or REAL:
            r = run_one((Path(audio), None, Path(tmp) / "pred.json", a.fps, ["--lang", a.lang]))
            x = np.asarray(decode_audio(audio).samples)
            jaw = jaw_curve(Path(audio), a.lang, a.fps)
            from scipy.signal import find_peaks

            peaks, _ = find_peaks(jaw, prominence=PROMINENCE)
            sp = speech_seconds(x)
            long_ = [plateau_s(jaw[i : i + 250], a.fps) for i in range(0, len(jaw), 250)]
            rows.append((Path(audio).name, r["code"], len(x) / 16000, sp, len(peaks) / (len(x) / 16000), len(peaks) / max(sp, 1e-9), plateau_s(jaw, a.fps),
                         float(np.median(long_)), len(x) / 16000 / max(r["cpu_s"], 1e-9)))  # fmt: skip
    print_table(("audio", "exit", "audio_s", "speech_s", "peaks/audio_s", "peaks/speech_s", "plateau_max_s", "plateau_median_10s_s", "x_rt_cpu"), rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="write the bench data")
    mk.add_argument("out", type=Path)
    rn = sub.add_parser("run", help="run talk cues on the bench data and score it")
    rn.add_argument("data", type=Path)
    rn.add_argument("--langs", default="", help="comma-separated (default: every folder of DATA)")
    rn.add_argument("--conditions", default="plain,transcript,plain-noise,transcript-noise")
    rn.add_argument("--nuclei", choices=("plain", "all", "none"), default="plain",
                    help="syllable check for: conditions without a transcript (default), all, none")
    rn.add_argument("--noise-db", type=float, default=-60.0)
    rn.add_argument("--jobs", type=int, default=2, help="worker processes (speed is per worker CPU time)")
    rn.add_argument("--scorer", type=Path, default=SCORER)
    rn.add_argument("--keep", type=Path, default=None, help="keep predictions here")
    rn.add_argument("--json", type=Path, default=None, help="write all summaries here")
    rl = sub.add_parser("real", help="real speech without a transcript: syllable diagnostics and speed")
    rl.add_argument("audio", nargs="*", type=Path)
    rl.add_argument("--lang", default="de")
    for p in (rn, rl):
        p.add_argument("--fps", type=int, default=25)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out)
    elif a.cmd == "run":
        run(a)
    else:
        real(a)


if __name__ == "__main__":
    main()
