"""Extra --ref photos as alternative expressions, checked against real frames of the same person.

    python benchmarks/extra_refs.py [OUTDIR] [--size 256] [--clip NAME:FIRST:EXTRA ...]

For each real talking video, one frame with the lips closed is the animated photo and one
with the mouth open is the extra photo. Every other frame (the extra photo's own frame and
three either side left out) is a held-out truth: it is brought into the animated crop's frame
(similarity on rigid points), the four mouth parameters are fitted to its lips (least squares
over the lip landmarks), and that mouth is rendered three ways: the first photo alone; with
the extra photo as talk uses it (its teeth arches plus its mouth as an alternative
expression); and with its mouth only (no borrowed teeth arches). Figures: PSNR and SSIM
(grey, 11x11 Gaussian window) over the held-out frame's lips grown by 0.15 mouth widths,
means over frames, split by how open the held-out mouth is and whether the extra photo had
any weight. Geometry is the same in all three renders; only the pixels differ.

OUTDIR (default /tmp/talk-extra-refs) receives sheet_<clip>.png: the eight most open held-out
frames, rows real / first photo alone / with the extra photo. Videos come from
../shared/real-inputs/video; renders of people stay outside the repository.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "real-inputs" / "video"
# name: (animated frame: lips closed, eyes open, facing the camera; extra frame: mouth open)
CLIPS = {"hdtf_WDA_AlexandriaOcasioCortez_000_8s.mp4": (115, 40), "grid_brbk7n_3s.mpg": (12, 32)}


def decode(path: Path) -> np.ndarray:
    """``(N, H, W, 3) uint8`` RGB frames of a video."""
    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    info = subprocess.run([ff, "-i", str(path)], capture_output=True, text=True).stderr
    w, h = map(int, re.search(r", (\d{2,5})x(\d{2,5})", info).groups())
    raw = subprocess.run([ff, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))


def check_clip(name: str, first: int, extra: int, size: int, outdir: Path) -> None:
    import cv2
    from scipy.optimize import minimize

    from talkcli.face import topology as topo
    from talkcli.face.align import RIGID_POINTS, similarity
    from talkcli.face.crop import face_crop
    from talkcli.face.detect import FaceLandmarker
    from talkcli.render.frames import FrameRenderer
    from talkcli.render.refs import ExpressionRefs

    frames = decode(SHARED / name)
    with FaceLandmarker() as finder:
        found = [finder.faces(np.ascontiguousarray(f)) for f in frames]
    lms = [f[0].landmarks if f else None for f in found]
    width = {i: float(np.linalg.norm(lm[291, :2] - lm[61, :2])) for i, lm in enumerate(lms) if lm is not None}
    opening = {i: float(lms[i][14, 1] - lms[i][13, 1]) / w for i, w in width.items()}

    def crop_of(i):
        g = face_crop(lms[i], frames[i].shape, size)
        return g.crop(frames[i]), g.to_crop(lms[i])

    crop, clm = crop_of(first)
    ref = crop_of(extra)
    alone = FrameRenderer(crop, clm, person_matte=False)
    both = FrameRenderer(crop, clm, person_matte=False, extra_refs=[ref])
    mouth_only = FrameRenderer(crop, clm, person_matte=False)
    mouth_only.refs = ExpressionRefs(crop, mouth_only.rig, [ref]) or None
    rig = alone.rig
    lips = sorted(set(topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER + topo.LIPS_INNER_UPPER + topo.LIPS_INNER_LOWER))
    src = rig.source[: rig.n_face]
    head = np.zeros(5)
    rows, sheet = [], []
    for h in sorted(width):
        if h == first or abs(h - extra) <= 3:
            continue
        hc, hl = crop_of(h)
        m = similarity(hl[RIGID_POINTS, :2], clm[RIGID_POINTS, :2])
        truth = cv2.warpAffine(hc, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        hl = hl[:, :2] @ m[:, :2].T + m[:, 2]

        def loss(x, hl=hl):
            return float(np.mean(np.sum((src[lips] + rig.local_displacement(np.clip(x, 0, 1), 0.0)[lips] - hl[lips]) ** 2, 1)))

        fit = min((minimize(loss, x0, method="Powell", bounds=[(0, 1)] * 4)
                   for x0 in ([0.2, 0, 0, 0], [0.7, 0, 0, 0], [0.3, 0.5, 0, 0])), key=lambda o: o.fun)
        mouth = np.clip(fit.x, 0, 1)
        mask = np.zeros((size, size), np.uint8)
        poly = np.concatenate([hl[topo.LIPS_OUTER_UPPER], hl[topo.LIPS_OUTER_LOWER[::-1]]])
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
        r = max(1, int(0.15 * np.linalg.norm(hl[291] - hl[61])))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
        row = {"open": opening[h], "fit_px": fit.fun**0.5, "mouth": mouth}
        out = {}
        for key, renderer in (("alone", alone), ("both", both), ("mouth", mouth_only)):
            f = out[key] = renderer.render_crop(mouth, 0.0, head)
            err = float(((f.astype(np.float64) - truth) ** 2)[mask].mean())
            row[key + "_psnr"] = 10 * np.log10(255.0**2 / max(err, 1e-9))
            grey = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)  # noqa: E731
            row[key + "_ssim"] = float(ssim_map(grey(f), grey(truth))[mask].mean())
        row["weight"] = float(both.refs.weights[0]) if both.refs is not None else 0.0
        rows.append(row)
        ys, xs = np.nonzero(mask)
        box = (slice(max(0, ys.min() - 8), ys.max() + 8), slice(max(0, xs.min() - 8), xs.max() + 8))
        sheet.append((opening[h], np.concatenate([truth[box], out["alone"][box], out["both"][box]], 0)))

    print(f"{name}: animated frame {first} (opening {opening[first]:.2f} mouth widths), extra frame {extra} "
          f"(opening {opening[extra]:.2f}), crop {size}; lip fit rms {np.median([r['fit_px'] for r in rows]):.2f} px (median)")
    print(f"  {'held-out frames':<28}{'n':>4}  {'PSNR alone / +extra / mouth only':>34}  {'SSIM alone / +extra / mouth only':>34}  weight")
    half = 0.5 * opening[extra]
    for label, keep in (("all", lambda r: True), (f"open >= {half:.2f}", lambda r: r["open"] >= half),
                        (f"open < {half:.2f}", lambda r: r["open"] < half), ("extra weight > 0", lambda r: r["weight"] > 0),
                        ("extra weight = 0", lambda r: r["weight"] == 0)):
        sel = [r for r in rows if keep(r)]
        if not sel:
            continue
        mean = lambda k: float(np.mean([r[k] for r in sel]))  # noqa: E731
        print(f"  {label:<28}{len(sel):>4}  {mean('alone_psnr'):>14.2f} / {mean('both_psnr'):.2f} / {mean('mouth_psnr'):.2f}"
              f"  {mean('alone_ssim'):>16.4f} / {mean('both_ssim'):.4f} / {mean('mouth_ssim'):.4f}  {mean('weight'):.2f}")
    # Cost: CPU per frame over the frames the extra photo has weight in, alone and with it
    # (median of three passes, interleaved).
    weighted = [r["mouth"] for r in rows if r["weight"] > 0]
    if weighted:
        cost = {"alone": [], "both": []}
        for _ in range(3):
            for key, renderer in (("alone", alone), ("both", both)):
                t0 = time.process_time()
                for mouth in weighted:
                    renderer.render_crop(mouth, 0.0, head)
                cost[key].append(1000 * (time.process_time() - t0) / len(weighted))
        print(f"  cost over {len(weighted)} weighted frames: {np.median(cost['alone']):.2f} ms of CPU a frame alone, "
              f"{np.median(cost['both']):.2f} ms with the extra photo")
    sheet.sort(key=lambda s: -s[0])
    tiles = [t for _, t in sheet[:8]]
    hh = max(t.shape[0] for t in tiles)
    tiles = [cv2.resize(t, (int(round(t.shape[1] * hh / t.shape[0])), hh)) for t in tiles]
    outdir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(outdir / f"sheet_{Path(name).stem}.png"), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", nargs="?", type=Path, default=Path("/tmp/talk-extra-refs"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--clip", action="append", default=None, help="NAME:FIRST:EXTRA (a video in the shared folder and two frame numbers)")
    args = ap.parse_args()
    clips = [(c.split(":")[0], int(c.split(":")[1]), int(c.split(":")[2])) for c in args.clip] if args.clip else \
        [(name, a, b) for name, (a, b) in CLIPS.items()]
    for name, first, extra in clips:
        if not (SHARED / name).exists():
            print(f"{name}: not found in {SHARED}; skipped")
            continue
        check_clip(name, first, extra, args.size, args.outdir)


if __name__ == "__main__":
    main()
