"""Overhead of ``talk batch --ray`` against ``--workers 2`` on a small batch.

A batch of --items clips of --seconds each (cut from examples/speech.wav),
smoke preset, rendered into a fresh folder each run. Prints the median wall
time over --runs runs of:

- the command as a user runs it (``python -m talkcli batch ...``, process
  start included): ``--workers 2``, and ``--ray local``, which also starts and
  stops a 2-CPU Ray cluster for the run;
- inside one process, with a Ray cluster already running (as with ``--ray
  auto`` on a cluster started by ``ray start``): ``run_batch(workers=2)`` and
  ``run_batch_ray`` with 2 workers (each run starts its actors, which load the
  models, as each ``--workers 2`` run starts its processes).

    python benchmarks/batch_ray.py [--runs 3] [--items 4] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FACE = ROOT / "examples" / "face.jpg"


def make_clips(folder: Path, items: int, seconds: float) -> Path:
    speech, sr = sf.read(ROOT / "examples" / "speech.wav", dtype="float32")
    clips = folder / "clips"
    clips.mkdir()
    step = max(1, int((len(speech) - seconds * sr) // max(1, items)))
    for k in range(items):
        sf.write(clips / f"c{k}.wav", speech[k * step : k * step + int(seconds * sr)], sr)
    return clips


def cli_run(clips: Path, out: Path, extra: list[str]) -> float:
    out.mkdir()
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "talkcli", "batch", str(clips), "--ref", str(FACE), "-o", str(out), "--preset", "smoke", "-q", *extra]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def in_process(clips: Path, folder: Path, runs: int) -> dict[str, list[float]]:
    import ray

    from talkcli.jobs.batch import plan_batch, run_batch
    from talkcli.jobs.ray_batch import run_batch_ray

    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR", _temp_dir=str(folder / "ray"))
    times: dict[str, list[float]] = {"in-process --workers 2": [], "in-process Ray, cluster running": []}
    quiet = {"preset": "smoke", "flags": {}, "job_file": None, "overwrite": False, "on_item": lambda i, it: None, "on_event": lambda i, e: None}
    try:
        for n in range(runs):
            for label, run in (("in-process --workers 2", lambda items: run_batch(items, workers=2, **quiet)),
                               ("in-process Ray, cluster running", lambda items: run_batch_ray(items, address="auto", workers=2, **quiet))):  # fmt: skip
                out = folder / f"{label.replace(' ', '_').replace(',', '')}{n}"
                out.mkdir()
                items = plan_batch(clips, FACE, None, out)
                started = time.perf_counter()
                run(items)
                times[label].append(time.perf_counter() - started)
                assert all(it.status == "done" for it in items), [it.message for it in items]
    finally:
        ray.shutdown()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--items", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="talk-bench-ray-") as tmp:
        folder = Path(tmp)
        clips = make_clips(folder, args.items, args.seconds)
        times: dict[str, list[float]] = {"talk batch --workers 2": [], "talk batch --ray local": []}
        for n in range(args.runs):
            times["talk batch --workers 2"].append(cli_run(clips, folder / f"w{n}", ["--workers", "2"]))
            times["talk batch --ray local"].append(cli_run(clips, folder / f"r{n}", ["--ray", "local"]))
        times |= in_process(clips, folder, args.runs)
    print(f"{args.items} items of {args.seconds:g} s, smoke preset, median of {args.runs} runs ({os.cpu_count()} CPUs):")
    for label, values in times.items():
        print(f"  {label:34s} {statistics.median(values):6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
