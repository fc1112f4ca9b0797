"""On paper: how much faster one long render gets on N machines with ``--ray``, from measured times.

Renders --minutes of speech locally (``python -m talkcli render``, default
settings, the LJ Speech clip repeated when ../shared is present, else the
example), reads the stage times the render records (``render.json`` in its
job folder), and models ``talk render --ray`` on N machines of C cores:

    T(N, C) = setup + (phones + motion) * F          the driver's passes, in order
            + start                                   a worker loads talk and the models
            + ceil(S / (N * C)) * segment             S segments, N * C at a time
            + join * F                                the driver joins the segment files

with F frames and S segments of ``jobs.segment_s`` (10 s). ``segment`` is
(render + encode) ms a frame times a segment's frames, measured with one
render per core as a Ray worker runs it (one CPU each). ``start`` is
--start-s (2.5 s measured: the first item of a worker in
``benchmarks/batch_ray.py``). Network and shared-storage costs are not in
the model: the driver sends only paths and motion states, and each worker
writes its segment file (a few MB) to the shared job folder.

    python benchmarks/ray_scaling.py [--minutes 5] [--cores 2] [--start-s 2.5]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEECH = ROOT.parent / "shared" / "real-inputs" / "audio" / "en_ljspeech_seven_wonders_72s.mp3"


def speech(minutes: float, folder: Path) -> Path:
    import numpy as np
    import soundfile as sf

    from talkcli.audio.decode import decode_audio

    source = SHARED_SPEECH if SHARED_SPEECH.is_file() else ROOT / "examples" / "speech.wav"
    x = np.asarray(decode_audio(source).samples, np.float32)
    n = int(minutes * 60 * 16000)
    out = folder / "speech.wav"
    sf.write(out, np.tile(x, n // len(x) + 1)[:n], 16000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--cores", type=int, default=2, help="cores per machine")
    ap.add_argument("--start-s", type=float, default=2.5, help="a worker's start-up (s)")
    ap.add_argument("--segment-s", type=float, default=10.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="talk-scaling-") as tmp:
        folder = Path(tmp)
        wav = speech(a.minutes, folder)
        out = folder / "out.mp4"
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "talkcli", "render", "--ref", str(ROOT / "examples" / "face.jpg"), "--audio", str(wav), "-o", str(out), "-q"]
        subprocess.run(cmd, check=True, cwd=folder)
        wall = time.perf_counter() - started
        record = json.loads(next(folder.glob(".talk-out.mp4-*/render.json")).read_text())
    ms = record["stage_ms_per_frame"]
    frames, fps = record["n_frames"], record["fps"]
    setup = sum(record["setup_seconds"].values())
    driver = setup + (ms["phones"] + ms["motion"]) * frames / 1000
    per_seg = (ms["render"] + ms["encode"]) * a.segment_s * fps / 1000
    segments = math.ceil(frames / (a.segment_s * fps))
    join = ms["join"] * frames / 1000
    print(f"local render of {a.minutes:g} min: {wall:.1f} s wall ({frames} frames; stages ms/frame: "
          + ", ".join(f"{k} {v:.2f}" for k, v in ms.items()) + ")")
    print(f"model: driver passes {driver:.1f} s, {segments} segments of {per_seg:.1f} s each, join {join:.1f} s, worker start {a.start_s:g} s")
    print(f"| machines ({a.cores} cores each) | modelled wall s | speed-up over one local render |")
    print("|---|---|---|")
    for n in (1, 2, 4, 8, 16, 32):
        t = driver + a.start_s + math.ceil(segments / (n * a.cores)) * per_seg + join
        print(f"| {n} | {t:.1f} | {wall / t:.1f}x |")


if __name__ == "__main__":
    main()
