"""Mouth timing measured on the rendered video: render every utterance of a folder
in the bench format (../shared/bench/visemes/data: uNN.wav + uNN.json with exact
phoneme timings + uNN.txt transcript) with `talk render`, re-detect the face with
FaceMesh on every frame (`talk eval --truth`'s closure check) and score the p/b/m
closures against the truth; beside it, the same figures from the driver's labels
(`talk cues`, scored by the bench's score.py) on the same files.

    python benchmarks/visemes_video.py DATA_DIR [--ref PHOTO] [--conditions plain,transcript]
                                       [--jobs 2] [--only u00,u01] [--keep DIR] [--json OUT]
                                       [--render-args "..."] [--rescore --keep DIR] [--closed-opening 0.04]

Video figures: closure recall +-1 frame (closures whose frames have a face),
spurious closures per minute (closed runs wholly inside speech that match no
closure; talkcli/eval/closure.py), face detection rate. Label figures: recall
+-1 frame and spurious per minute from score.py. Both are pooled over files
(hits over events, runs over minutes); `long60` (60 s) is scored on its own line.

Renders are 512 px crops (`--crop-only`, balanced preset) of examples/face.jpg by
default, each run in-process through the Typer app in a worker (the command a
user runs). With --keep, the videos, label files and per-frame opening tracks
(NPZ: opening in inter-ocular distances, NaN without a face; audio_start_s) stay
in DIR/CONDITION/ for inspection, and --rescore scores them again without rendering.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from visemes import load_scorer, print_table  # benchmarks/ is not a package


def _call(argv: list[str]) -> int:
    """Run one `talk` command in-process; its exit code."""
    from talkcli.cli.app import app

    try:
        ret = app(argv, standalone_mode=False)  # click returns an Exit's code here
        return int(ret) if isinstance(ret, int) else 0
    except SystemExit as exc:  # typer.Exit inside guarded()
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - a failure is a benchmark figure
        return getattr(exc, "exit_code", 1)


def run_one(args: tuple) -> dict:
    """Worker: `talk cues` and `talk render` on one utterance, then FaceMesh on every frame of the video.

    Writes ``STEM.cues.json``, ``STEM.mp4`` and ``STEM.track.npz`` into the condition's folder.
    """
    wav, txt, ref, out_dir, fps, render_args = args
    from talkcli.eval import analyse_video

    stem = wav.stem
    res: dict = {"stem": stem}
    cues = ["cues", str(wav), "--fps", str(fps), "-f", "json", "-o", str(out_dir / f"{stem}.cues.json")]
    video = out_dir / f"{stem}.mp4"
    render = ["render", "--ref", str(ref), "--audio", str(wav), "-o", str(video), "--fps", str(fps), "--crop-only",
              "--quiet", "--overwrite", "--fresh", "--job-dir", str(out_dir / f".job-{stem}")]
    if txt is not None:
        cues += ["--transcript", str(txt)]
        render += ["--transcript", str(txt)]
    res["cues_code"] = _call(cues)
    t_cpu = time.process_time()
    res["render_code"] = _call(render + render_args)
    res["render_cpu_s"] = time.process_time() - t_cpu
    if res["render_code"] != 0:
        return res
    try:
        a = analyse_video(video)
    except Exception as exc:  # noqa: BLE001 - a failure is a benchmark figure
        res["eval_error"] = f"{type(exc).__name__}: {exc}"
        return res
    np.savez_compressed(out_dir / f"{stem}.track.npz", opening=a.track.opening, audio_start_s=a.audio_start_s, fps=a.fps)
    return res


def video_figures(track: Path, truth: Path, closed_opening: float | None = None) -> dict:
    """The closure check (``talk eval --truth``) on a kept opening track."""
    from talkcli.eval.closure import CLOSED_OPENING, closure_check, load_truth

    z = np.load(track)
    opening = z["opening"]
    c = closure_check(load_truth(truth), opening, float(z["fps"]), float(z["audio_start_s"]),
                      closed_opening=CLOSED_OPENING if closed_opening is None else closed_opening)
    return {"events": c.events, "met": c.closed, "undetected": c.undetected, "spurious": c.spurious,
            "measured_s": c.measured_s, "timing_ms": c.timing_ms, "frames": len(opening),
            "detected": int(np.count_nonzero(~np.isnan(opening)))}


def failure(r: dict) -> str | None:
    """Why one utterance has no figures (None: it has them)."""
    if r["render_code"]:
        return f"render exit {r['render_code']}"
    if r["cues_code"]:
        return f"cues exit {r['cues_code']}"
    return r.get("eval_error")


def pooled_video(results: list[dict]) -> dict:
    ok = [r for r in results if "events" in r]
    scored = sum(r["events"] - r["undetected"] for r in ok)
    minutes = sum(r["measured_s"] for r in ok) / 60
    frames = sum(r["frames"] for r in ok)
    timing = [t for r in ok for t in r["timing_ms"]]
    return {
        "files": len(ok),
        "events": sum(r["events"] for r in ok),
        "events_without_face": sum(r["undetected"] for r in ok),
        "met": sum(r["met"] for r in ok),
        "recall": sum(r["met"] for r in ok) / scored if scored else None,
        "spurious_runs": sum(r["spurious"] for r in ok),
        "spurious_per_min": sum(r["spurious"] for r in ok) / minutes if minutes else None,
        "face_detection_rate": sum(r["detected"] for r in ok) / frames if frames else None,
        "timing_median_ms": float(np.median(timing)) if timing else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--ref", type=Path, default=HERE.parent / "examples" / "face.jpg", help="portrait to animate")
    ap.add_argument("--conditions", default="plain,transcript")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--only", default="", help="comma-separated stems to run (default: all)")
    ap.add_argument("--scorer", type=Path, default=None, help="score.py [default: DATA/../score.py]")
    ap.add_argument("--keep", type=Path, default=None, help="keep videos, labels and opening tracks here")
    ap.add_argument("--json", type=Path, default=None, help="write the pooled and per-file figures here")
    ap.add_argument("--render-args", default="", help="more `talk render` flags, e.g. \"--preset fast\"")
    ap.add_argument("--rescore", action="store_true", help="render nothing: score the videos' tracks kept in --keep")
    ap.add_argument("--closed-opening", type=float, default=None,
                    help="lips count as closed at or below this opening (inter-ocular distances) [default: talk eval's]")
    a = ap.parse_args()

    data = a.data.resolve()
    scorer_path = a.scorer or data.parent / "score.py"
    score = load_scorer(scorer_path)
    vmap = score.load_map(str(scorer_path.parent / "viseme_map.json"))
    stems = sorted(p.stem for p in data.glob("*.json") if (data / f"{p.stem}.wav").exists())
    if a.only:
        stems = [s for s in stems if s in a.only.split(",")]
    stems.sort(key=lambda s: s != "long60")  # the longest first, so it does not trail the pool
    render_args = shlex.split(a.render_args)
    if a.rescore and not a.keep:
        sys.exit("--rescore needs --keep DIR (the folder of an earlier run)")
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="visemes_video_"))
    rows, out = [], {}
    for cond in a.conditions.split(","):
        use_txt = cond == "transcript"
        if cond not in ("plain", "transcript"):
            sys.exit(f"unknown condition {cond!r}: use plain, transcript")
        cdir = work / cond
        cdir.mkdir(parents=True, exist_ok=True)
        jobs = [(data / f"{s}.wav", data / f"{s}.txt" if use_txt and (data / f"{s}.txt").exists() else None,
                 a.ref.resolve(), cdir, a.fps, render_args) for s in stems]
        t0 = time.perf_counter()
        if a.rescore:
            results = [{"stem": s, "render_code": 0 if (cdir / f"{s}.track.npz").exists() else -1,
                        "cues_code": 0 if (cdir / f"{s}.cues.json").exists() else -1} for s in stems]
        elif a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                results = list(pool.map(run_one, jobs))
        else:
            results = [run_one(j) for j in jobs]
        wall = time.perf_counter() - t0
        for r in results:
            if not failure(r):
                r.update(video_figures(cdir / f"{r['stem']}.track.npz", data / f"{r['stem']}.json", a.closed_opening))
        by_stem = {r["stem"]: r for r in results}
        fails = {r["stem"]: why for r in results if (why := failure(r))}
        print(f"[{cond}] {len(results)} files in {wall:.0f} s wall, {len(fails)} failed {fails if fails else ''}",
              file=sys.stderr, flush=True)
        out[cond] = {"per_file": by_stem, "failures": fails, "wall_s": wall}
        for label, keys in (("utterances", [s for s in stems if s.startswith("u")]), ("long60", [s for s in stems if s == "long60"])):
            if not keys:
                continue
            ok = [s for s in keys if s not in fails]
            video = pooled_video([by_stem[s] for s in ok])
            scored = {s: score.score_file(json.loads((data / f"{s}.json").read_text()),
                                          json.loads((cdir / f"{s}.cues.json").read_text()), vmap, a.fps, [1]) for s in ok}
            labels = score.summarize(scored, vmap, a.fps, [1])["closure"]["tol1"] if scored else {}
            out[cond][label] = {"video": video, "labels": labels}
            rows.append((cond, label, len(keys), len([s for s in keys if s in fails]), video["recall"], labels.get("recall"),
                         video["spurious_per_min"], labels.get("spurious_per_min"), video["face_detection_rate"],
                         video["timing_median_ms"]))
    hdr = ("condition", "set", "files", "fail", "recall+-1 video", "recall+-1 labels", "spur/min video",
           "spur/min labels", "face detected", "closure timing ms")
    print_table(hdr, rows)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=float))
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
