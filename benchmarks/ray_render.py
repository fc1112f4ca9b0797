"""One long render on Ray against the same render made locally: same frames? how long?

Renders --minutes of speech (the LJ Speech clip in ../shared/real-inputs when
present, else examples/speech.wav, repeated) with the example photo, default
settings on the CPU, twice through ``python -m talkcli render``: locally, and
with ``--ray local`` (a Ray cluster started on this machine for the run, one
worker per CPU). Prints each wall time, the md5 of each H.264 stream (copied
out without decoding) and whether they are equal.

    python benchmarks/ray_render.py [--minutes 5] [--preset balanced]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEECH = ROOT.parent / "shared" / "real-inputs" / "audio" / "en_ljspeech_seven_wonders_72s.mp3"


def h264_md5(path: Path) -> str:
    from talkcli.mux.ffmpeg import find_ffmpeg

    cmd = [find_ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "h264", "-"]
    return hashlib.md5(subprocess.run(cmd, capture_output=True, check=True).stdout).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--preset", default="balanced")
    a = ap.parse_args()
    import numpy as np
    import soundfile as sf

    from talkcli.audio.decode import decode_audio

    with tempfile.TemporaryDirectory(prefix="talk-ray-render-") as tmp:
        work = Path(tmp)
        source = SHARED_SPEECH if SHARED_SPEECH.exists() else ROOT / "examples" / "speech.wav"
        x = np.asarray(decode_audio(source).samples)
        n = int(a.minutes * 60 * 16000)
        audio = work / "speech.wav"
        sf.write(audio, np.tile(x, -(-n // len(x)))[:n], 16000, subtype="PCM_16")
        print(f"{a.minutes:g} min of speech from {source.name}, preset {a.preset}, example photo, CPU", flush=True)
        results = {}
        for mode, extra in (("local", []), ("ray local", ["--ray", "local"])):
            out = work / f"{mode.replace(' ', '_')}.mp4"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "talkcli", "render", "--ref", str(ROOT / "examples" / "face.jpg"),
                            "--audio", str(audio), "-o", str(out), "--preset", a.preset, "--device", "cpu", "--quiet",
                            *extra], check=True)  # fmt: skip
            results[mode] = (time.perf_counter() - t, h264_md5(out))
            print(f"{mode:>10}: {results[mode][0]:6.1f} s, H.264 md5 {results[mode][1]}", flush=True)
        same = results["local"][1] == results["ray local"][1]
        print(f"streams {'identical' if same else 'DIFFERENT'}; --ray local took {results['ray local'][0] / results['local'][0]:.2f}x the local time")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
