"""md5 of every decoded video frame of a few real renders: proof that a refactor left the frames alone.

Renders, through ``python -m talkcli render`` (so it times nothing and tests the
whole command), each case below and prints one line per case: the md5 of the
decoded frames (ffmpeg's ``-f md5`` over rgb24), the md5 of the decoded audio,
and the frame count. Run it on the old code and on the new and compare:

    python benchmarks/frame_digests.py --json after.json
    PYTHONPATH=/path/to/old/checkout python benchmarks/frame_digests.py --json before.json
    python benchmarks/frame_digests.py --compare before.json after.json

Cases: the example (photo + JFK speech), the example with its transcript, the
example photo with German speech (``--lang de``, LibriVox, public domain), three
photos of one person (frames 0, 3 s and 6 s of the HDTF clip in
../shared/real-inputs/video, with the JFK speech), and a job at 1 s segments killed after its
third segment and resumed (must equal the same job uninterrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "real-inputs"
FACE = ROOT / "examples" / "face.jpg"
SPEECH = ROOT / "examples" / "speech.wav"
TRANSCRIPT = ROOT / "examples" / "speech.txt"
GERMAN = SHARED / "audio" / "de_librivox_simplicissimus_68s.mp3"
VIDEO = SHARED / "video" / "hdtf_WDA_AlexandriaOcasioCortez_000_8s.mp4"


def ffmpeg() -> str:
    from talkcli.mux.ffmpeg import find_ffmpeg

    return find_ffmpeg(None)


def digest(path: Path, stream: str) -> str:
    fmt = ["-pix_fmt", "rgb24"] if stream == "v" else ["-ac", "1"]
    out = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", f"0:{stream}:0", *fmt, "-f", "md5", "-"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return out.removeprefix("MD5=")


def n_frames(path: Path) -> int:
    from talkcli.mux.ffmpeg import probe

    return probe(path).video.n_frames


def talk(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "talkcli", "render", *args, "--quiet"], **kw)


def frame_at(video: Path, seconds: float, out: Path) -> Path:
    subprocess.run([ffmpeg(), "-v", "error", "-ss", str(seconds), "-i", str(video), "-frames:v", "1", "-y", str(out)], check=True)
    return out


def cases(work: Path) -> dict[str, list[str]]:
    base = ["--ref", str(FACE), "--audio", str(SPEECH), "--device", "cpu"]
    out = {
        "example": base,
        "transcript": [*base, "--transcript", str(TRANSCRIPT)],
        "example-1s-segments": [*base, "--set", "jobs.segment_s=1"],
    }
    if GERMAN.exists():
        out["lang-de"] = ["--ref", str(FACE), "--audio", str(GERMAN), "--lang", "de", "--device", "cpu"]
    if VIDEO.exists():
        refs = [frame_at(VIDEO, s, work / f"ref{s}.png") for s in (0, 3, 6)]
        out["three-photos"] = [*(a for r in refs for a in ("--ref", str(r))), "--audio", str(SPEECH), "--device", "cpu"]
    return out


def resumed(work: Path) -> tuple[str, int]:
    """The example at 1 s segments, killed once its first segments are done, then resumed."""
    out = work / "resumed.mp4"
    job = work / "resume-job"
    args = ["--ref", str(FACE), "--audio", str(SPEECH), "--device", "cpu", "--set", "jobs.segment_s=1",
            "-o", str(out), "--job-dir", str(job)]
    proc = talk(*args)
    deadline = time.time() + 120
    while time.time() < deadline:
        manifest = job / "manifest.json"
        if manifest.exists():
            try:
                done = sum(s["status"] == "done" for s in json.loads(manifest.read_text())["segments"])
            except (ValueError, KeyError):
                done = 0
            if done >= 3:
                break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if out.exists():
        raise SystemExit("the render finished before it could be killed; nothing resumed")
    subprocess.run([sys.executable, "-m", "talkcli", "render", *args, "--quiet"], check=True)
    return digest(out, "v"), n_frames(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="also write the digests here")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two --json files and exit")
    a = p.parse_args()
    if a.compare:
        before, after = (json.loads(f.read_text()) for f in a.compare)
        bad = 0
        for name in sorted(set(before) | set(after)):
            same = before.get(name) == after.get(name)
            bad += not same
            print(f"{name:14s} {'identical' if same else 'DIFFERENT'}  {before.get(name)}  {after.get(name)}")
        sys.exit(1 if bad else 0)
    import talkcli

    print(f"talkcli from {Path(talkcli.__file__).parent}", flush=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="talk-digests-") as tmp:
        work = Path(tmp)
        for name, args in cases(work).items():
            out = work / f"{name}.mp4"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "talkcli", "render", *args, "-o", str(out), "--quiet"], check=True)
            results[name] = {"video_md5": digest(out, "v"), "audio_md5": digest(out, "a"), "frames": n_frames(out)}
            print(f"{name:14s} {results[name]['frames']:5d} frames  video {results[name]['video_md5']}  "
                  f"audio {results[name]['audio_md5']}  ({time.perf_counter() - t:.1f} s)", flush=True)
        video_md5, frames = resumed(work)
        results["example-resumed"] = {"video_md5": video_md5, "frames": frames}
        same = video_md5 == results["example-1s-segments"]["video_md5"]
        print(f"{'resumed':14s} {frames:5d} frames  video {video_md5}  ({'equals' if same else 'DIFFERS from'} the uninterrupted render)")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
