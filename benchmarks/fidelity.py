"""Renderer fidelity on real portraits: rest PSNR, background stillness, lip opening re-detected
by FaceMesh, folded triangles, render cost, and a contact sheet per portrait.

    python benchmarks/fidelity.py [OUTDIR] [--size 512] [--frames 100] [--runs 3] [--expression 1.0] [--threads 0]

Folds: "strict" counts every sign change of a skin or outer triangle's area over the sequence
and the contact-sheet shapes (max per frame); ">0.1px2" only flips larger than 0.1 px^2.
Cost: median over --runs of CPU ms per frame (time.process_time, all threads) and wall ms;
--threads N runs OpenCV on N threads (default 0: OpenCV's own choice, as in a render).

OUTDIR (default /tmp/talk-fidelity) receives contact_<portrait>.png: neutral, aa, oo, m, ee,
blink, nod. Portraits: ../shared/real-inputs/portraits/* when present, and examples/face.jpg.
Renders of people stay outside the repository.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "real-inputs" / "portraits"

SHEET = {
    "neutral": ([0, 0, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "aa": ([0.85, 0, 0.1, 0], 0.0, [0, 0, 0, 0, 0]),
    "oo": ([0.35, 1, 0, 0], 0.0, [0, 0, 0, 0, 0]),
    "m": ([0, 0, 0, 1], 0.0, [0, 0, 0, 0, 0]),
    "ee": ([0.3, 0, 1, 0], 0.0, [0, 0, 0, 0, 0]),
    "blink": ([0, 0, 0, 0], 1.0, [0, 0, 0, 0, 0]),
    "nod": ([0.3, 0, 0, 0], 0.0, [0, 4, 0, 0, 0.01]),
}


def head_path(n: int, seed: int = 0, amount: float = 1.0) -> np.ndarray:
    """``(n, 5)`` smooth head motion at the generator's amplitudes for --head-motion ``amount``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 25.0
    amp = np.array([2.2, 1.6, 1.0, 0.012, 0.008]) * amount
    out = np.zeros((n, 5))
    for k in range(5):
        f = rng.uniform(0.2, 0.5, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        out[:, k] = amp[k] * (np.sin(2 * np.pi * f[0] * t + ph[0]) + 0.5 * np.sin(2 * np.pi * f[1] * t + ph[1])) / 1.5
    return out


def mouth_path(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    jaw = np.clip(np.convolve(rng.uniform(0, 1, n), np.ones(3) / 3, mode="same"), 0, 1)
    m = np.zeros((n, 4))
    m[:, 0] = jaw
    m[::7, 3] = 1.0
    m[::7, 0] = 0.0
    return m


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    import cv2

    from talkcli.face.crop import face_crop
    from talkcli.face.detect import FaceLandmarker
    from talkcli.face.image import load_image
    from talkcli.face.mask import person_matte
    from talkcli.render.frames import FrameRenderer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", nargs="?", type=Path, default=Path("/tmp/talk-fidelity"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--expression", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=0, help="OpenCV threads (0: OpenCV's default, as in a render)")
    args = ap.parse_args()
    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    out = args.outdir.resolve()
    if ROOT in out.parents or out == ROOT:
        raise SystemExit("write contact sheets outside the repository")
    out.mkdir(parents=True, exist_ok=True)
    portraits = (sorted(SHARED.glob("*")) if SHARED.is_dir() else []) + [ROOT / "examples" / "face.jpg"]
    print(f"{'portrait':34} {'restPSNR':>8} {'bg>2 %':>7} {'lip r':>6} {'det %':>6} {'strict':>6} {'>0.1px2':>7} {'cpu ms':>6} {'wall ms':>7}   sheet")
    with FaceLandmarker() as lmk:
        for path in portraits:
            photo = load_image(path)
            face = lmk.faces(photo)[0]
            geo = face_crop(face.landmarks, photo.shape, args.size)
            crop, lm = geo.crop(photo), geo.to_crop(face.landmarks)
            person = person_matte(crop)
            r = FrameRenderer(crop, lm, expression=args.expression, person_matte=person)
            n = args.frames
            heads, mouths = head_path(n), mouth_path(n)
            blink = np.zeros(n)
            blink[40:46] = np.sin(np.linspace(0, np.pi, 6))
            # Rest: still head, closed (silent) mouth.
            rest = r.render_crop(np.zeros(4), 0.0, np.zeros(5))
            rest_psnr = psnr(rest, crop)
            # Render cost and stillness with head motion 1.
            folds = []
            cpu, wall = [], []
            for _ in range(max(1, args.runs)):
                frames = []
                t0, w0 = time.process_time(), time.perf_counter()
                for i in range(n):
                    frames.append(r.render_crop(mouths[i], float(blink[i]), heads[i]))
                cpu.append(1000 * (time.process_time() - t0) / n)
                wall.append(1000 * (time.perf_counter() - w0) / n)
            # Folds, strict (every sign change of a skin or outer triangle) and beyond 0.1 px^2,
            # over the sequence and the contact-sheet shapes.
            folds_tol = []
            poses = [(mouths[i], float(blink[i]), heads[i]) for i in range(n)]
            poses += [(np.asarray(m, float), b, np.asarray(h, float)) for m, b, h in SHEET.values()]
            for m, b, h in poses:
                t = r.rig.target(m, b, h)
                folds.append(len(r.rig.folded(t)))
                folds_tol.append(len(r.rig.folded(t, 0.1)))
            bg = person < 0.05 if person is not None else np.zeros(crop.shape[:2], bool)
            bg = cv2.erode(bg.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            changed = [np.mean(np.abs(frames[i].astype(np.int16) - frames[i - 1]).max(axis=2)[bg] > 2) for i in range(1, n)]
            # Lip opening commanded vs re-detected (still head, jaw sweep).
            cmd, seen = [], []
            for jaw in np.linspace(0, 1, 11):
                m = np.array([jaw, 0, 0, 0])
                f = r.render_crop(m, 0.0, np.zeros(5))
                found = lmk.faces(f)
                tgt = r.rig.target(m, 0.0, np.zeros(5))
                cmd.append(tgt[14, 1] - tgt[13, 1])
                seen.append(found[0].landmarks[14, 1] - found[0].landmarks[13, 1] if found else np.nan)
            seen = np.asarray(seen, float)
            det = float(np.mean(np.isfinite(seen)))
            ok = np.isfinite(seen)
            lip_r = float(np.corrcoef(np.asarray(cmd)[ok], seen[ok])[0, 1]) if ok.sum() > 2 else float("nan")
            tiles = []
            for label, (m, b, h) in SHEET.items():
                tile = r.render_crop(np.asarray(m, float), b, np.asarray(h, float))[:, :, ::-1].copy()
                cv2.putText(tile, label, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
                tiles.append(tile)
            sheet_path = out / f"contact_{path.stem}.png"
            cv2.imwrite(str(sheet_path), np.hstack(tiles))
            print(f"{path.name[:34]:34} {rest_psnr:8.1f} {100 * max(changed):7.2f} {lip_r:6.3f} {100 * det:6.0f} "
                  f"{max(folds):6d} {max(folds_tol):7d} {np.median(cpu):6.2f} {np.median(wall):7.2f}   {sheet_path}")


if __name__ == "__main__":
    main()
