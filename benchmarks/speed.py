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
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEECH = ROOT.parent / "shared" / "real-inputs" / "audio" / "en_ljspeech_seven_wonders_72s.mp3"


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ref", type=Path, default=ROOT / "examples" / "face.jpg")
    ap.add_argument("--audio", type=Path, default=None)
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        ref, audio, out, crop = args.one
        one_run(ref, audio, out, crop == "crop")
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
