"""The warp's resampling step on this machine: OpenCV's remap against the torch path.

    python benchmarks/remap.py [--size 512] [--runs 5] [--device cpu]

Prints the median over --runs of the wall ms per remap of a ``size`` x ``size`` RGB image
(50 remaps a run), for cv2.remap and for talk's torch path (``TorchRemap``: upload the maps,
grid_sample, download the frame) on --device (cpu, or cuda where torch sees a GPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from talkcli.render.device import TorchRemap
    from talkcli.render.warp import remap

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (n, n, 3), dtype=np.uint8)
    gy, gx = np.mgrid[0:n, 0:n].astype(np.float32)
    mx = gx + 3.0 * np.sin(gy / 30.0).astype(np.float32)
    my = gy + 2.0 * np.cos(gx / 40.0).astype(np.float32)
    torch_remap = TorchRemap(img, args.device)
    for name, fn in (("cv2.remap", lambda: remap(img, mx, my)), (f"torch ({args.device})", lambda: torch_remap(mx, my))):
        fn()
        runs = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for _ in range(50):
                fn()
            runs.append(1000 * (time.perf_counter() - t0) / 50)
        print(f"{name:>14}: {statistics.median(runs):.2f} ms a remap at {n}x{n} (runs: {', '.join('%.2f' % r for r in runs)})")


if __name__ == "__main__":
    main()
