"""Where frames are resampled: OpenCV on the CPU, or torch on a CUDA GPU.

torch is imported only when a GPU may be used (``--device auto`` or ``cuda``),
so CPU-only runs with ``--device cpu`` never pay for the import.
"""

from __future__ import annotations

import numpy as np

from talkcli.errors import EnvironmentProblem


def resolve_device(requested: str) -> str:
    """"cpu" or "cuda" for ``requested`` in auto | cpu | cuda."""
    if requested == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError as exc:
        if requested == "cuda":
            raise EnvironmentProblem("--device cuda needs torch", hint="pip install torch (a CUDA build)") from exc
        return "cpu"
    available = bool(torch.cuda.is_available())
    if requested == "cuda" and not available:
        raise EnvironmentProblem(
            f"--device cuda asked for, but torch {torch.__version__} sees no CUDA GPU",
            hint="use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU",
        )
    return "cuda" if available else "cpu"


class TorchRemap:
    """``cv2.remap`` (bilinear, replicated border) on a torch device with ``grid_sample``.

    The reference crop is uploaded once; each frame uploads two float maps and
    downloads the frame. On CPU torch this gives the same pixels as OpenCV to
    within rounding; it is the path used when CUDA is present.
    """

    def __init__(self, image: np.ndarray, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        h, w = image.shape[:2]
        self.size = (h, w)
        self.image = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None].float()

    def __call__(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        torch = self.torch
        h, w = self.size
        gx = torch.from_numpy(map_x).to(self.device)
        gy = torch.from_numpy(map_y).to(self.device)
        # align_corners=True: -1 and 1 are the centres of the first and last pixels, as in cv2.remap.
        grid = torch.stack([gx * (2.0 / (w - 1)) - 1.0, gy * (2.0 / (h - 1)) - 1.0], dim=-1)[None]
        out = torch.nn.functional.grid_sample(self.image, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
