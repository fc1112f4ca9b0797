"""Render speed: 60 s of speech at 512x512 (crop) and at the photo's full size.

Prints, per configuration, the median over --runs runs (each in its own
process, so peak RSS is per render): end-to-end fps (frames / wall time of the
whole render, model loading included), frame-loop fps, time from decoded audio
to the first frame handed to ffmpeg, per-stage ms/frame and peak RSS.

    python benchmarks/speed.py [--runs 3] [--seconds 60] [--ref PHOTO] [--audio AUDIO]

Then the smoke render as CI runs it: the installed ``talk`` command, smoke
preset, the example photo and speech, wall time from start to exit (process
start and model loading included), median of --runs.

Speech: the given --audio, else the LJ Speech clip in ../shared/real-inputs
when present, else examples/speech.wav repeated; cut to --seconds.

With ``--sweep``, instead: a photo-size sweep. A real portrait (--ref, else the
640x960 Flickr portrait in ../shared/real-inputs when present, else the
example) at its own size and resized (Lanczos) to 0.3, 1, 2, 8 and 12
megapixels, plus a 1080x1920 phone-video frame cut from it; each rendered full
frame and crop-only with the default settings, printing per row the photo, the
output size, end-to-end fps, render and encode ms per frame and peak RSS
(medians of --runs):

    python benchmarks/speed.py --sweep [--runs 3] [--seconds 20] [--sizes 0.3 1 2 8 12] [--compare OLD_CHECKOUT]

``--compare`` renders every row with a second checkout's code too (its folder put first on
PYTHONPATH, e.g. ``git archive <commit> | tar -x -C /tmp/old``), the two checkouts' runs interleaved,
and prints its row below this one's, marked "(--compare)".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEECH = ROOT.parent / "shared" / "real-inputs" / "audio" / "en_ljspeech_seven_wonders_72s.mp3"
SHARED_PORTRAIT = ROOT.parent / "shared" / "real-inputs" / "portraits" / "flickr_hawee_frosty_open_smile.jpg"


def make_speech(seconds: float, source: Path | None, workdir: Path) -> Path:
    import numpy as np
    import soundfile as sf

    from talkcli.audio.decode import decode_audio

    src = source or (SHARED_SPEECH if SHARED_SPEECH.exists() else ROOT / "examples" / "speech.wav")
    samples = np.asarray(decode_audio(src).samples)
    n = int(seconds * 16000)
    reps = -(-n // len(samples))
    clip = np.tile(samples, reps)[:n]
    out = workdir / f"speech_{int(seconds)}s.wav"
    sf.write(out, clip, 16000, subtype="PCM_16")
    return out


def one_run(ref: str, audio: str, out: str, crop_only: bool) -> None:
    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings

    settings = load_settings(None, {"render.crop_only": crop_only, "render.device": "cpu"})
    r = render(RenderJob(Path(ref), Path(audio), Path(out), overwrite=True), settings)
    print(json.dumps({
        "frames": r.n_frames, "seconds": r.seconds, "size": f"{r.width}x{r.height}",
        "e2e_fps": r.n_frames / r.seconds, "loop_fps": r.render_fps,
        "first_frame_s": r.time_to_first_frame_s, "stages": r.stage_ms_per_frame,
        "setup": r.setup_seconds, "rss_mb": r.peak_rss_mb,
    }))


def median_run(ref: Path, speech: Path, out: Path, mode: str, runs: int, code: list[str | None] = [None]) -> list[dict]:
    """Median figures of ``runs`` renders, each in its own process, for each checkout in ``code``
    (a path put first on PYTHONPATH; None: this one), the checkouts' runs interleaved (A B A B ...)
    so that a shared machine's load falls on all of them alike."""
    got: list[list[dict]] = [[] for _ in code]
    for _ in range(runs):
        for k, path in enumerate(code):
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")])))
            proc = subprocess.run([sys.executable, __file__, "--one", str(ref), str(speech), str(out), mode],
                                  capture_output=True, text=True, check=True, env=env if path else None)
            got[k].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    meds = []
    for runs_of in got:
        med = {k: statistics.median(r[k] for r in runs_of) for k in ("e2e_fps", "loop_fps", "rss_mb")}
        med["stages"] = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs_of) for k in runs_of[0]["stages"]}
        med["size"] = runs_of[0]["size"]
        med["all"] = [r["e2e_fps"] for r in runs_of]
        meds.append(med)
    return meds


def sweep_photos(source: Path, sizes: list[float], work: Path) -> list[tuple[str, Path]]:
    """(label, path) of the source photo at its own size, at each size in megapixels, and 1080x1920."""
    from PIL import Image

    img = Image.open(source).convert("RGB")
    w, h = img.size
    out = [(f"own {w}x{h}", source)]
    for mp in sizes:
        k = (mp * 1e6 / (w * h)) ** 0.5
        size = (round(w * k), round(h * k))
        path = work / f"photo_{mp:g}mp.png"
        img.resize(size, Image.LANCZOS).save(path)
        out.append((f"{mp:g} MP {size[0]}x{size[1]}", path))
    k = max(1080 / w, 1920 / h)  # a phone video's frame: cover 1080x1920, cut the middle
    big = img.resize((round(w * k), round(h * k)), Image.LANCZOS)
    x0, y0 = (big.width - 1080) // 2, (big.height - 1920) // 2
    path = work / "photo_1080x1920.png"
    big.crop((x0, y0, x0 + 1080, y0 + 1920)).save(path)
    out.append(("1080x1920", path))
    return out


def sweep(args) -> None:
    source = args.ref if args.ref != ROOT / "examples" / "face.jpg" or not SHARED_PORTRAIT.exists() else SHARED_PORTRAIT
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech = make_speech(args.seconds, args.audio, work)
        print(f"photo-size sweep: {source.name}, {args.seconds:.0f} s of speech, default settings, {args.runs} runs each, CPU")
        print(f"{'photo':>22} {'mode':>5} {'output':>10} {'e2e fps':>8} {'render ms':>9} {'encode ms':>9} {'RSS MB':>7}  all runs")
        code = [None] + ([str(args.compare)] if args.compare else [])
        for label, photo in sweep_photos(source, args.sizes, work):
            for mode in ("full", "crop"):
                for name, m in zip(("", "  (--compare)"), median_run(photo, speech, work / "out.mp4", mode, args.runs, code)):
                    st = m["stages"]
                    print(f"{label:>22} {mode:>5} {m['size']:>10} {m['e2e_fps']:8.1f} {st.get('render', 0):9.2f} "
                          f"{st.get('encode', 0):9.2f} {m['rss_mb']:7.0f}  {', '.join('%.1f' % f for f in m['all'])}{name}",
                          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ref", type=Path, default=ROOT / "examples" / "face.jpg")
    ap.add_argument("--audio", type=Path, default=None)
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--sweep", action="store_true", help="photo-size sweep instead (see above)")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.3, 1, 2, 8, 12], help="megapixels for --sweep")
    ap.add_argument("--compare", type=Path, default=None,
                    help="--sweep: also render with the talkcli of this checkout, runs interleaved with this one's")
    args = ap.parse_args()
    if args.one:
        ref, audio, out, crop = args.one
        one_run(ref, audio, out, crop == "crop")
        return
    if args.sweep:
        sweep(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech = make_speech(args.seconds, args.audio, work)
        print(f"ref {args.ref}, {args.seconds:.0f} s of speech from {args.audio or (SHARED_SPEECH if SHARED_SPEECH.exists() else 'examples/speech.wav')}, {args.runs} runs each, CPU")
        for label, mode in (("512x512 crop", "crop"), ("full photo", "full")):
            runs = []
            for _ in range(args.runs):
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", str(args.ref), str(speech), str(work / "out.mp4"), mode],
                    capture_output=True, text=True, check=True,
                )
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            med = lambda key: statistics.median(r[key] for r in runs)
            stages = {k: statistics.median(r["stages"][k] for r in runs) for k in runs[0]["stages"]}
            setup = {k: statistics.median(r["setup"][k] for r in runs) for k in runs[0]["setup"]}
            print(
                f"{label:>13} {runs[0]['size']:>9}: end-to-end {med('e2e_fps'):6.1f} fps "
                f"(all runs: {', '.join('%.1f' % r['e2e_fps'] for r in runs)}), frame loop {med('loop_fps'):6.1f} fps, "
                f"first frame {med('first_frame_s') * 1000:5.0f} ms after audio decode, peak RSS {med('rss_mb'):5.0f} MB"
            )
            print("               ms/frame: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
                  + "; setup s: " + ", ".join(f"{k} {v:.2f}" for k, v in setup.items()))
        talk = Path(sys.executable).with_name("talk")
        walls = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([str(talk), "render", "--ref", str(ROOT / "examples" / "face.jpg"), "--audio",
                            str(ROOT / "examples" / "speech.wav"), "-o", str(work / "smoke.mp4"), "--preset", "smoke",
                            "--quiet", "--overwrite"], check=True)
            walls.append(time.perf_counter() - t0)
        print(f"smoke render (examples/speech.wav, {args.runs} runs): median {statistics.median(walls):.2f} s "
              f"(all runs: {', '.join('%.2f' % w for w in walls)})")


if __name__ == "__main__":
    main()
