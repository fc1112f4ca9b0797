"""On paper: how much faster one long render gets on N machines with ``--ray``, from measured times.

Renders --minutes of speech twice with default settings (the LJ Speech clip
repeated when ../shared is present, else the example): locally, and with
``--ray local`` (one worker per CPU of this machine). The local render's
stage times (``render.json``) give the parts that stay on the driver machine,
in order, whatever the cluster:

    serial = setup + (phones + motion) * F + join * F + worker start-up

and the ``--ray local`` run gives what one machine's workers take for all S
segments together: ``parallel_1 = T_ray - serial - cluster start-up``
(--cluster-start-s, 3.8 s measured: ``benchmarks/batch_ray.py``, ``--ray
local`` against a running cluster). On N such machines the segments go out
N times as wide, a whole segment at a time:

    T(N) = serial + parallel_1 * ceil(S / (N * W)) / ceil(S / W)

with W workers a machine (its CPUs). Not modelled: the network and shared
storage (the driver sends paths and motion states; each worker writes its
segment file, a few MB, to the shared job folder) and machines unlike this one.

    python benchmarks/ray_scaling.py [--minutes 5] [--start-s 2.5] [--cluster-start-s 3.8]
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


def render(wav: Path, out: Path, extra: list[str]) -> tuple[float, dict]:
    import os

    env = dict(os.environ, RAY_AUTH_MODE=os.environ.get("RAY_AUTH_MODE", "disabled"))
    cmd = [sys.executable, "-m", "talkcli", "render", "--ref", str(ROOT / "examples" / "face.jpg"), "--audio", str(wav), "-o", str(out), "-q", *extra]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=out.parent, env=env)
    wall = time.perf_counter() - started
    return wall, json.loads(next(out.parent.glob(f".talk-{out.name}-*/render.json")).read_text())


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--start-s", type=float, default=2.5, help="a worker's start-up (s)")
    ap.add_argument("--cluster-start-s", type=float, default=3.8, help="starting a local Ray cluster (s)")
    ap.add_argument("--segment-s", type=float, default=10.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="talk-scaling-") as tmp:
        folder = Path(tmp)
        wav = speech(a.minutes, folder)
        local, record = render(wav, folder / "local.mp4", [])
        on_ray, _ = render(wav, folder / "ray.mp4", ["--ray", "local"])
    ms, frames = record["stage_ms_per_frame"], record["n_frames"]
    serial = sum(record["setup_seconds"].values()) + (ms["phones"] + ms["motion"] + ms["join"]) * frames / 1000 + a.start_s
    parallel = on_ray - serial - a.cluster_start_s
    segments, width = math.ceil(frames / (a.segment_s * record["fps"])), os.cpu_count() or 1
    print(f"{a.minutes:g} min ({frames} frames, {segments} segments): local {local:.1f} s, --ray local {on_ray:.1f} s; "
          f"serial part {serial:.1f} s, the segments on one machine of {width} CPUs {parallel:.1f} s")
    print("| machines | modelled wall s | speed-up over the local render |")
    print("|---|---|---|")
    for n in (1, 2, 4, 8, 16, 32):
        t = serial + parallel * math.ceil(segments / (n * width)) / math.ceil(segments / width)
        print(f"| {n} | {t:.1f} | {local / t:.1f}x |")


if __name__ == "__main__":
    main()
