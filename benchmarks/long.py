"""Long inputs: does memory stay flat as the audio gets longer?

Renders 1, 10 and 60 minutes of speech (real clips joined end to end) and
prints, for each, peak RSS of the render process, end-to-end fps and wall
time. Each render runs in its own process so its peak RSS is its own.

    python benchmarks/long.py [--minutes 1 10 60] [--preset fast] [--ref PHOTO]

Speech: the English clips in ../shared/real-inputs/audio when present (LJ
Speech, JFK, LibriVox), else examples/speech.wav, repeated to length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "real-inputs" / "audio"


def make_speech(minutes: float, workdir: Path) -> Path:
    import numpy as np
    import soundfile as sf

    from talkcli.audio.decode import decode_audio

    sources = sorted(SHARED.glob("en_*")) if SHARED.is_dir() else []
    sources = sources or [ROOT / "examples" / "speech.wav"]
    clips = [np.asarray(decode_audio(p).samples) for p in sources]
    n = int(minutes * 60 * 16000)
    out = workdir / f"speech_{minutes:g}min.wav"
    with sf.SoundFile(out, "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        written, i = 0, 0
        while written < n:
            clip = clips[i % len(clips)][: n - written]
            f.write(clip)
            written += len(clip)
            i += 1
    return out


def one(ref: str, audio: str, out: str, preset: str) -> None:
    from talkcli.api import RenderJob, render
    from talkcli.config.settings import load_settings

    r = render(RenderJob(Path(ref), Path(audio), Path(out), overwrite=True, fresh=True), load_settings(preset, {"render.device": "cpu"}))
    print(json.dumps({"frames": r.n_frames, "seconds": r.seconds, "rss_mb": r.peak_rss_mb, "fps": r.n_frames / r.seconds,
                      "first_frame_s": r.time_to_first_frame_s, "size": f"{r.width}x{r.height}"}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--ref", type=Path, default=ROOT / "examples" / "face.jpg")
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(*args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"ref {args.ref.name}, preset {args.preset}, CPU; speech from {SHARED if SHARED.is_dir() else 'examples/'}")
        print(f"{'audio':>8} {'frames':>8} {'size':>9} {'peak RSS':>9} {'fps':>7} {'first frame':>11} {'wall':>8}")
        for minutes in args.minutes:
            audio = make_speech(minutes, work)
            proc = subprocess.run([sys.executable, __file__, "--one", str(args.ref), str(audio), str(work / "out.mp4"), args.preset],
                                  capture_output=True, text=True)  # fmt: skip
            if proc.returncode != 0:
                print(f"{minutes:>6g} m  failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{minutes:>6g} m {r['frames']:>8} {r['size']:>9} {r['rss_mb']:>7.0f} MB {r['fps']:>7.1f} {r['first_frame_s']:>9.2f} s {r['seconds']:>6.0f} s")
            audio.unlink()


if __name__ == "__main__":
    main()
