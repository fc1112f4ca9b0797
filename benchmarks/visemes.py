"""Mouth-timing benchmark: run `talk cues` on every utterance of a folder in the
bench format (../shared/bench/visemes/data: uNN.wav + uNN.json with exact
phoneme timings + uNN.txt transcript) and score it with the bench's scorer.

    python benchmarks/visemes.py DATA_DIR [--conditions plain,transcript,plain-noise,transcript-noise]
                                 [--noise-db -60] [--fps 25] [--jobs 1] [--keep DIR] [--json OUT]
                                 [--extra-args "..."] [--per-file]

Conditions: `plain` (audio only), `transcript` (--transcript uNN.txt); the
`-noise` variants add a white noise floor at --noise-db dBFS (RMS) to every
file first (the bench's pauses are digital silence; real recordings never are).
`long60` (a 60 s clip) is scored on its own line when present.

Each utterance runs `talk cues` in-process (the same command a user runs,
through the Typer app) in a worker; the speed column is audio seconds per
CPU second of the worker process (one core; ffmpeg's decode is not counted).
Targets (issue #4): no transcript recall >= 0.90, spurious <= 3/min, frame
accuracy >= 0.70; with transcript recall >= 0.98, accuracy >= 0.80, no failures;
with the noise floor each figure within 0.05; speed >= 20x real time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("viseme_score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def print_table(header: tuple, rows: list[tuple]) -> None:
    """A Markdown table; floats with three decimals, None as "-"."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join("-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r) + " |")


def noisy_copy(wav: Path, out: Path, noise_db: float, seed: int) -> Path:
    import soundfile as sf

    x, sr = sf.read(wav, dtype="float32")
    rng = np.random.default_rng(seed)
    x = x + (rng.standard_normal(len(x)) * 10 ** (noise_db / 20)).astype(np.float32)
    sf.write(out, x, sr, subtype="FLOAT")
    return out


def run_one(args: tuple) -> dict:
    """Worker: `talk cues` on one file; returns exit code, CPU seconds, prediction path."""
    wav, txt, pred, fps, extra = args
    from talkcli.cli.app import app

    argv = ["cues", str(wav), "--fps", str(fps), "-f", "json", "-o", str(pred)]
    if txt:
        argv += ["--transcript", str(txt)]
    argv += extra
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    code = 0
    try:
        ret = app(argv, standalone_mode=False)  # click returns an Exit's code here
        code = int(ret) if isinstance(ret, int) else 0
    except SystemExit as exc:  # typer.Exit inside guarded()
        code = int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - a failure is a benchmark figure
        code = getattr(exc, "exit_code", 1)
    return {"stem": wav.stem, "code": code, "cpu_s": time.process_time() - t_cpu, "wall_s": time.perf_counter() - t_wall}


def agreement(pairs: list[str], scorer_path: Path, fps: float) -> None:
    """Real speech: the no-transcript driver scored against forced alignment to the true words.

    ``pairs``: "AUDIO=TRANSCRIPT_TEXT_OR_FILE". The reference is what `talk cues
    --transcript` gives (forced alignment); it is not ground truth, only the
    best labels available for real recordings.
    """
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.phonemes import PhoneRecognizer, phone_batches
    from talkcli.audio.plan import frame_count
    from talkcli.motion.cues import frame_classes

    score = load_scorer(scorer_path)
    vmap = score.load_map(str(scorer_path.parent / "viseme_map.json"))
    vmap["espeak"] = {c: c for c in vmap["classes"]}  # the reference is given in classes
    rec = PhoneRecognizer()
    per_file = {}
    for item in pairs:
        audio, text = item.split("=", 1)
        if Path(text).is_file():
            text = Path(text).read_text()
        x = np.asarray(decode_audio(audio).samples)
        n = frame_count(len(x), 16000, fps)
        batches = list(phone_batches(x, rec, text))
        ref = frame_classes([p for b in batches for p in b.phones], n, fps)
        gt = {"duration_s": n / fps, "segments": [{"phoneme": c, "start_s": i / fps, "end_s": (i + 1) / fps} for i, c in enumerate(ref)]}
        for d in ("allphone",):
            pred = frame_classes([p for b in phone_batches(x, rec, None) for p in b.phones], n, fps)
            r = score.score_file(gt, {"fps": fps, "frames": pred}, vmap, fps, [0, 1])
            per_file[Path(audio).name] = r
            s1 = score.summarize({"x": r}, vmap, fps, [0, 1])
            print(f"{Path(audio).name:48s} {d:9s} aligned={all(b.aligned for b in batches)!s:5s} closures {s1['closure']['tol1']['hits']}/{s1['closure']['tol1']['events']} "
                  f"spurious {s1['closure']['tol1']['spurious_runs']} ({s1['closure']['tol1']['spurious_per_min']}/min) frame agreement {s1['frame_accuracy']:.3f}")
    for d in ("allphone",):
        s1 = score.summarize(per_file, vmap, fps, [0, 1])
        c = s1["closure"]["tol1"]
        print(f"ALL {d}: closure recall {c['recall']} spurious {c['spurious_per_min']}/min frame agreement {s1['frame_accuracy']:.3f}")


def nuclei_check(items: list[str]) -> None:
    """The acoustic (--lang) driver's syllable nuclei against vowels found another way.

    ``items``: "AUDIO" or "AUDIO=TEXT". With words, the reference vowels come from forced
    alignment to them (English); without, from pocketsphinx's phone loop (a rough, independent
    vowel detector, usable on any language). Precision: nuclei inside a reference vowel (+-20 ms);
    recall: reference vowels holding a nucleus.
    """
    from talkcli.audio.acoustic import syllable_nuclei
    from talkcli.audio.decode import decode_audio
    from talkcli.audio.phonemes import _VOWELS, PhoneRecognizer, phone_batches

    rec = PhoneRecognizer()
    tot = np.zeros(4)
    for item in items:
        audio, _, text = item.partition("=")
        if text and Path(text).is_file():
            text = Path(text).read_text()
        x = np.asarray(decode_audio(audio).samples)
        t = time.process_time()
        peaks = syllable_nuclei(x)
        cpu = time.process_time() - t
        vowels = [(p.start_s - 0.02, p.end_s + 0.02) for b in phone_batches(x, rec, text or None) for p in b.phones
                  if p.name.rstrip("012") in _VOWELS]
        inside = sum(any(a <= t <= b for a, b in vowels) for t in peaks)
        held = sum(any(a <= t <= b for t in peaks) for a, b in vowels)
        tot += (inside, len(peaks), held, len(vowels))
        ref = "aligned words" if text else "allphone vowels"
        print(f"{Path(audio).name:44s} ref={ref:15s} nuclei {len(peaks):4d} ({len(peaks) / (len(x) / 16000):.1f}/s)  "
              f"precision {inside / max(1, len(peaks)):.3f}  vowel recall {held / max(1, len(vowels)):.3f}  "
              f"speed {len(x) / 16000 / max(cpu, 1e-9):.0f}x")
    print(f"ALL: precision {tot[0] / max(1, tot[1]):.3f} vowel recall {tot[2] / max(1, tot[3]):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, nargs="?")
    ap.add_argument("--agree", nargs="+", default=None, metavar="AUDIO=TEXT",
                    help="real speech: score the no-transcript driver against forced alignment to TEXT (a file or the words)")
    ap.add_argument("--nuclei", nargs="+", default=None, metavar="AUDIO[=TEXT]",
                    help="check the acoustic driver's syllable nuclei against aligned (TEXT) or recognised vowels")
    ap.add_argument("--conditions", default="plain,transcript,plain-noise,transcript-noise")
    ap.add_argument("--noise-db", type=float, default=-60.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (speed is per worker CPU time)")
    ap.add_argument("--scorer", type=Path, default=None, help="score.py [default: DATA/../score.py]")
    ap.add_argument("--keep", type=Path, default=None, help="keep predictions here (one folder per condition)")
    ap.add_argument("--json", type=Path, default=None, help="write all summaries here")
    ap.add_argument("--extra-args", default="", help="more `talk cues` flags, e.g. \"--lang auto\"")
    ap.add_argument("--per-file", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated stems to run (default: all)")
    a = ap.parse_args()
    if a.nuclei:
        nuclei_check(a.nuclei)
        return
    if a.agree:
        default = Path(__file__).resolve().parents[2] / "shared" / "bench" / "visemes" / "score.py"
        agreement(a.agree, a.scorer or (a.data.parent / "score.py" if a.data else default), a.fps)
        return

    data = a.data.resolve()
    scorer_path = a.scorer or data.parent / "score.py"
    score = load_scorer(scorer_path)
    vmap = score.load_map(str(scorer_path.parent / "viseme_map.json"))
    stems = sorted(p.stem for p in data.glob("*.json") if (data / f"{p.stem}.wav").exists())
    if a.only:
        stems = [s for s in stems if s in a.only.split(",")]
    extra = shlex.split(a.extra_args)
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="visemes_"))
    rows, summaries = [], {}
    for cond in a.conditions.split(","):
        use_txt = cond.startswith("transcript")
        noise = cond.endswith("-noise")
        pred_dir = work / cond
        pred_dir.mkdir(parents=True, exist_ok=True)
        jobs = []
        for k, stem in enumerate(stems):
            wav = data / f"{stem}.wav"
            if noise:
                wav = noisy_copy(wav, pred_dir / f"{stem}.wav", a.noise_db, seed=1000 + k)
            txt = data / f"{stem}.txt" if use_txt and (data / f"{stem}.txt").exists() else None
            jobs.append((wav, txt, pred_dir / f"{stem}.json", a.fps if a.fps != int(a.fps) else int(a.fps), extra))
        t0 = time.perf_counter()
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                results = list(pool.map(run_one, jobs))
        else:
            results = [run_one(j) for j in jobs]
        wall = time.perf_counter() - t0
        fails = [r["stem"] for r in results if r["code"] != 0]
        scored = {}
        for r in results:
            if r["code"] != 0:
                continue
            gt = json.load(open(data / f"{r['stem']}.json"))
            pred = json.load(open(pred_dir / f"{r['stem']}.json"))
            scored[r["stem"]] = score.score_file(gt, pred, vmap, a.fps, [0, 1])
        audio_s = sum(json.load(open(data / f"{s}.json"))["duration_s"] for s in stems)
        cpu_s = sum(r["cpu_s"] for r in results)
        for label, keys in (("utterances", [s for s in scored if s.startswith("u")]), ("long60", [s for s in scored if s == "long60"])):
            if not keys:
                continue
            summ = score.summarize({k: scored[k] for k in keys}, vmap, a.fps, [0, 1])
            if a.per_file:
                summ["per_file"] = {k: {kk: v for kk, v in score.summarize({k: scored[k]}, vmap, a.fps, [0, 1]).items()
                                        if kk not in ("confusion", "per_class")} for k in keys}
            summaries[f"{cond}/{label}"] = summ
            c1, c0 = summ["closure"]["tol1"], summ["closure"]["tol0"]
            rows.append((cond, label, len(keys), len([f for f in fails if (f == "long60") == (label == "long60")]),
                         c1["recall"], c0["recall"], c1["spurious_per_min"], summ["frame_accuracy"],
                         summ["speech_frame_accuracy"], (c1["onset_err_frames"] or {}).get("mean_ms")))
        summaries[f"{cond}/speed"] = {"audio_s": audio_s, "cpu_s": cpu_s, "x_realtime_cpu": audio_s / cpu_s if cpu_s else None,
                                      "wall_s": wall, "failed": fails}
        print(f"[{cond}] {len(results)} files, {len(fails)} failed {fails if fails else ''}, "
              f"{audio_s:.0f} s audio in {cpu_s:.1f} CPU s = {audio_s / max(cpu_s, 1e-9):.1f}x real time (wall {wall:.0f} s)",
              file=sys.stderr, flush=True)
    hdr = ("condition", "set", "files", "fail", "recall+-1", "recall0", "spur/min", "frame_acc", "speech_acc", "onset_ms")
    print_table(hdr, rows)
    for cond in a.conditions.split(","):
        s = summaries[f"{cond}/speed"]
        print(f"speed {cond}: {s['x_realtime_cpu']:.1f}x real time (CPU time of one worker)")
    if a.json:
        a.json.write_text(json.dumps(summaries, indent=1, default=float))
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
