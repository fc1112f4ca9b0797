"""GFPGAN face restoration of rendered crops, in batches, before paste-back.

``GfpganEnhancer`` takes the ``(N, S, S, 3) uint8`` RGB crops of a block of
frames and brings each to the network's side (512 for GFPGAN v1.4): either a
plain resize of the whole crop, or, given the face's five points, a
similarity warp onto the FFHQ template the network was trained on. It
normalises as the official inference does (RGB, ``x / 127.5 - 1``), restores
in batches under ``torch.inference_mode``, converts back (clamp to
``[-1, 1]``, ``(y + 1) * 127.5``, round), returns to ``S`` pixels (resize, or
the inverse warp with a feathered edge) and blends with the input by
``strength``.

The weights file is checked against the registry by
``talkcli.models.registry.resolve_model`` before it gets here; this module
only loads what it is given, with ``weights_only=True`` and ``strict=True``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkcli.errors import ConfigError, EnvironmentProblem

# Cost of the full GFPGANv1Clean at 512x512 on the 2-core development machine,
# torch 2.13 CPU, after warm-up: 6.1 to 8.5 CPU-seconds per frame (process
# time, batch 1 to 4), i.e. about 3.5 s of wall time per frame with both cores
# when nothing else runs (2.2 to 4.3 s measured, 13 to 29 s while the machine
# was shared with other jobs). The estimate divides the CPU cost by torch's
# thread count and uses the upper half of that range on purpose: a warning
# that comes true is better than an ETA that slips. Convolutions scale well
# to a few more cores, less well beyond, so on big machines it is optimistic;
# the progress bar's ETA comes from the measured rate, not from this.
CPU_CORE_SECONDS_PER_FRAME_512 = 7.0
CUDA_SECONDS_PER_FRAME_512 = 0.03  # a rough figure for a recent NVIDIA GPU, fp32; not measured here
LONG_RUN_WARNING_S = 60.0  # warn before a render when enhancement alone should take longer than this


def estimate_seconds(n_frames: int, device: str, out_size: int = 512, threads: int | None = None) -> float:
    """Wall seconds GFPGAN should need for ``n_frames`` crops on ``device`` ("cpu" or "cuda").

    ``threads``: CPU threads torch uses (default: ``torch.get_num_threads()``).
    Scales with the network's pixels for other ``out_size`` values.
    """
    if device.startswith("cuda"):
        per_frame = CUDA_SECONDS_PER_FRAME_512
    else:
        if threads is None:
            import torch

            threads = torch.get_num_threads()
        per_frame = CPU_CORE_SECONDS_PER_FRAME_512 / max(1, min(int(threads), 8))
    return n_frames * per_frame * (out_size / 512) ** 2


def long_run_warning(n_frames: int, device: str, out_size: int = 512, threshold_s: float = LONG_RUN_WARNING_S,
                     threads: int | None = None) -> str | None:
    """The up-front warning text when enhancing ``n_frames`` should take longer than ``threshold_s``, else None."""
    seconds = estimate_seconds(n_frames, device, out_size, threads)
    if seconds <= threshold_s:
        return None
    per_frame = seconds / max(n_frames, 1)
    where = "on the GPU" if device.startswith("cuda") else "on the CPU"
    advice = "" if device.startswith("cuda") else "; a CUDA GPU (--device cuda) is far faster, or leave out --enhance for a preview"
    return (
        f"GFPGAN enhancement {where} should take about {_duration(seconds)} for {n_frames} frames "
        f"(~{per_frame:.1f} s per frame){advice}"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------
# Loading.


def resolve_config(stored, requested):
    """The architecture config: the checkpoint's own (``stored``) wins; else ``requested``; else "official".

    ``requested`` is a name in ``NAMED_CONFIGS``, a ``GfpganConfig`` or None.
    A checkpoint that stores a config different from an explicitly requested
    one is refused rather than silently reinterpreted.
    """
    from talkcli.enhance.gfpgan_arch import NAMED_CONFIGS, GfpganConfig

    if isinstance(requested, str):
        if requested not in NAMED_CONFIGS:
            raise ConfigError(f"unknown GFPGAN config {requested!r}", hint=f"known: {', '.join(NAMED_CONFIGS)}")
        requested = NAMED_CONFIGS[requested]
    if stored is not None:
        if not isinstance(stored, dict):
            raise EnvironmentProblem("the checkpoint's 'config' entry is not a table of settings")
        try:
            cfg = GfpganConfig.from_dict(stored)
        except (TypeError, ValueError) as exc:
            raise EnvironmentProblem(f"the checkpoint's config is not a GFPGANv1Clean config: {exc}") from exc
        if requested is not None and requested != cfg:
            raise EnvironmentProblem(f"the checkpoint was saved with config {cfg}, not the requested {requested}")
        return cfg
    return requested if requested is not None else NAMED_CONFIGS["official"]


def load_gfpgan(weights: Path, config=None, device: str = "cpu"):
    """Load a GFPGANv1Clean checkpoint: ``weights_only=True``, ``strict=True``, eval mode, on ``device``.

    Accepts the official layout ``{"params_ema": state_dict}`` (or
    ``{"params": ...}``, which the official loader also accepts), optionally
    with a ``"config"`` dict of ``GfpganConfig`` fields that travels with the
    weights. Without a stored config, ``config`` (a name or ``GfpganConfig``)
    is used, else the official v1.3/v1.4 configuration. Every failure is an
    ``EnvironmentProblem`` naming the file.
    """
    import torch

    from talkcli.enhance.gfpgan_arch import GFPGANv1Clean

    weights = Path(weights)
    try:
        ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"GFPGAN weights not found: {weights}") from exc
    except Exception as exc:  # UnpicklingError (weights_only refused), zip errors, truncated files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentProblem(
            f"{weights} cannot be loaded as a GFPGAN checkpoint with weights_only=True: {first}",
            hint="use the official GFPGANv1.4.pth; a file that needs full unpickling is refused on purpose",
        ) from exc
    if not isinstance(ckpt, dict):
        raise EnvironmentProblem(f"{weights} is not a GFPGAN checkpoint (expected a dict with 'params_ema')")
    key = "params_ema" if "params_ema" in ckpt else "params" if "params" in ckpt else None
    if key is None:
        raise EnvironmentProblem(f"{weights} has no 'params_ema' or 'params' entry (found: {', '.join(map(str, ckpt)) or 'nothing'})")
    cfg = resolve_config(ckpt.get("config"), config)
    with torch.device("meta"):  # build without allocating or initialising 350 MB of random weights
        model = GFPGANv1Clean(cfg)
    state = ckpt[key]
    mismatch = _layout_mismatch(model.state_dict(), state) if isinstance(state, dict) else "it is not a state dict"
    hint = "GFPGANv1.4.pth (or v1.3) uses the clean architecture; v1 (original) and RestoreFormer files are not supported"
    if mismatch:
        raise EnvironmentProblem(f"{weights} does not match the GFPGANv1Clean architecture ({cfg.out_size}px): {mismatch}", hint=hint)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:  # what the layout check cannot see (e.g. a non-tensor value)
        detail = " ".join(str(exc).split())
        raise EnvironmentProblem(f"{weights} does not load into GFPGANv1Clean ({cfg.out_size}px): {detail[:300]}", hint=hint) from exc
    return model.float().eval().requires_grad_(False).to(device)


def _layout_mismatch(expected: dict, got: dict) -> str:
    """"" when ``got`` has exactly ``expected``'s keys and shapes, else a one-line summary."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    wrong = [
        f"{k} {tuple(getattr(got[k], 'shape', ()))} != {tuple(expected[k].shape)}"
        for k in expected
        if k in got and tuple(getattr(got[k], "shape", ())) != tuple(expected[k].shape)
    ]

    def few(items: list[str]) -> str:
        return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({few(unexpected)})")
    if wrong:
        parts.append(f"{len(wrong)} size mismatches ({few(wrong)})")
    return "; ".join(parts)


# --------------------------------------------------------------------------
# Enhancing crops.


# The five points GFPGAN's training faces were aligned to (FFHQ, as facexlib's
# FaceRestoreHelper uses them), at 512 px: eye on the image's left, eye on the
# right, nose tip, mouth corner left, mouth corner right.
FFHQ_FIVE_POINTS_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]],
    dtype=np.float64,
)
ALIGN_BORDER_RGB = (135, 133, 132)  # what the official helper fills outside the photo with


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """FaceMesh ``(478, 2|3)`` landmarks -> the ``(5, 2)`` points of ``FFHQ_FIVE_POINTS_512``, same order and pixels."""
    from talkcli.face import topology as topo

    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    return np.stack([
        lm[topo.EYE_A_UPPER + topo.EYE_A_LOWER].mean(axis=0),
        lm[topo.EYE_B_UPPER + topo.EYE_B_LOWER].mean(axis=0),
        lm[topo.NOSE_TIP],
        lm[topo.MOUTH_CORNERS[0]],
        lm[topo.MOUTH_CORNERS[1]],
    ])


class _Alignment:
    """Similarity warp of an ``S``-pixel crop onto the FFHQ template at the network's side, and back."""

    def __init__(self, points: np.ndarray, side: int, out_size: int) -> None:
        import cv2

        template = FFHQ_FIVE_POINTS_512 * (out_size / 512.0)
        m, _ = cv2.estimateAffinePartial2D(np.asarray(points, np.float64), template, method=cv2.LMEDS)
        if m is None:
            raise ValueError("cannot fit a similarity transform to the five face points")
        self.forward = m
        self.inverse = cv2.invertAffineTransform(m)
        self.side, self.out_size = side, out_size
        # Feathered footprint of the aligned square in crop space: restored pixels fade out
        # over the outer 1/16 of the square instead of ending in a seam.
        edge = max(2, out_size // 16)
        ramp = np.minimum(np.arange(out_size), out_size - 1 - np.arange(out_size)) / edge  # 0 on the edge pixels
        ramp = np.clip(ramp, 0.0, 1.0).astype(np.float32)
        square = np.minimum(ramp[:, None], ramp[None, :])
        self.alpha = cv2.warpAffine(square, self.inverse, (side, side), flags=cv2.INTER_LINEAR, borderValue=0.0)

    def to_network(self, crop: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.warpAffine(crop, self.forward, (self.out_size, self.out_size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=ALIGN_BORDER_RGB)

    def to_crop(self, restored: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.warpAffine(restored, self.inverse, (self.side, self.side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class GfpganEnhancer:
    """Restores face crops with GFPGAN and blends them with the originals.

    ``weights``: a GFPGANv1Clean checkpoint (already verified by the registry).
    ``device``: "cpu", "cuda", "cuda:N" or "auto" (CUDA when torch sees one).
    ``strength``: 0 returns the input unchanged, 1 the restored face.
    ``batch_size``: crops per forward pass (1-4 on CPU, 8-16 on a GPU).
    ``face_points``: optional ``(5, 2)`` points (``five_points``) of the face in
    crop pixels. With them each crop is warped onto the FFHQ template GFPGAN
    was trained on, restored, warped back and feathered in; without them the
    whole crop is resized to the network's side.
    ``config``: architecture when the checkpoint stores none (a name or
    ``GfpganConfig``; default "official").
    """

    def __init__(self, weights: Path, device: str = "cpu", strength: float = 1.0, batch_size: int = 4,
                 *, face_points: np.ndarray | None = None, config=None, randomize_noise: bool = False) -> None:
        from talkcli.enhance.probe import require_torch

        if not 0.0 <= float(strength) <= 1.0 or math.isnan(float(strength)):
            raise ConfigError(f"--enhance-strength must be in 0..1, got {strength}")
        if int(batch_size) < 1:
            raise ConfigError(f"enhance batch size must be 1 or more, got {batch_size}")
        if face_points is not None and np.asarray(face_points).shape != (5, 2):
            raise ValueError(f"face_points must be (5, 2), got {np.asarray(face_points).shape}")
        require_torch()
        import torch

        if device == "auto":
            from talkcli.render.device import resolve_device

            device = resolve_device("auto")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EnvironmentProblem("GFPGAN on cuda asked for, but torch sees no CUDA GPU", hint="use --device cpu")
        self.torch = torch
        self.device = device
        self.strength = float(strength)
        self.batch_size = int(batch_size)
        self.face_points = None if face_points is None else np.asarray(face_points, dtype=np.float64)
        self.randomize_noise = randomize_noise
        self.model = load_gfpgan(Path(weights), config=config, device=device)
        self.out_size = self.model.config.out_size
        self._alignments: dict[int, _Alignment] = {}
        self.frames_done = 0
        self.seconds = 0.0  # wall time inside enhance(), for the render record

    @property
    def seconds_per_frame(self) -> float | None:
        """Measured so far, or None before the first frame."""
        return self.seconds / self.frames_done if self.frames_done else None

    def enhance(self, crops: np.ndarray, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """``(N, S, S, 3) uint8`` RGB crops -> restored ``(N, S, S, 3) uint8`` RGB, same order.

        ``progress(k)`` is called after each batch with the number of crops of
        this call finished so far.
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2] or crops.dtype != np.uint8:
            raise ValueError(f"crops must be (N, S, S, 3) uint8, got {crops.shape} {crops.dtype}")
        n, side = crops.shape[0], crops.shape[1]
        if self.strength == 0.0 or n == 0:
            if progress is not None and n:
                progress(n)
            return crops.copy()
        started = time.perf_counter()
        align = self._alignment(side)
        out = np.empty_like(crops)
        for start in range(0, n, self.batch_size):
            batch = crops[start : start + self.batch_size]
            if align is None:
                restored = _resize_all(self._restore(_resize_all(batch, self.out_size)), side)
                alpha = np.float32(self.strength)
            else:
                restored = np.stack([align.to_crop(r) for r in self._restore(np.stack([align.to_network(c) for c in batch]))])
                alpha = (align.alpha * np.float32(self.strength))[None, :, :, None]
            out[start : start + len(batch)] = _blend(batch, restored, alpha)
            if progress is not None:
                progress(start + len(batch))
        self.frames_done += n
        self.seconds += time.perf_counter() - started
        return out

    def _alignment(self, side: int) -> _Alignment | None:
        if self.face_points is None:
            return None
        if side not in self._alignments:
            self._alignments[side] = _Alignment(self.face_points, side, self.out_size)
        return self._alignments[side]

    def _restore(self, x: np.ndarray) -> np.ndarray:
        """``(B, out_size, out_size, 3) uint8`` RGB -> the network's ``(B, out_size, out_size, 3) uint8`` RGB."""
        torch = self.torch
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).permute(0, 3, 1, 2).float()
            t = t / 127.5 - 1.0  # (x / 255 - 0.5) / 0.5, as the official inference normalises
            y = self.model(t, randomize_noise=self.randomize_noise)
            y = ((y.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
            return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def _blend(original: np.ndarray, restored: np.ndarray, alpha) -> np.ndarray:
    """``alpha * restored + (1 - alpha) * original``, rounded; ``alpha`` a scalar or broadcastable array in 0..1."""
    if np.isscalar(alpha) and alpha == 1.0:
        return restored
    mixed = restored.astype(np.float32) * alpha + original.astype(np.float32) * (np.float32(1.0) - alpha)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _resize_all(images: np.ndarray, side: int) -> np.ndarray:
    """Resize ``(B, s, s, 3) uint8`` to ``(B, side, side, 3)``: area when shrinking, bicubic when growing."""
    import cv2

    if images.shape[1] == side:
        return np.ascontiguousarray(images)
    interp = cv2.INTER_AREA if side < images.shape[1] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(im, (side, side), interpolation=interp) for im in images])
