"""Dependency probe for face enhancement: torch is the only thing GFPGAN needs.

torch is a declared dependency of talk, but the rest of the renderer runs
without it (``render/device.py`` falls back to OpenCV), so ``--enhance`` checks
for it up front and names the install command instead of failing with an
ImportError halfway through a render. Nothing here imports torch at module
import time, so ``talk --help`` stays light.
"""

from __future__ import annotations

import importlib.util

from talkcli.errors import EnvironmentProblem

TORCH_INSTALL = 'pip install "torch==2.13.0" (the CPU build, or a CUDA build for --device cuda; see the README install notes)'


def torch_available() -> bool:
    """True when ``import torch`` would find a package (does not import it)."""
    return importlib.util.find_spec("torch") is not None


def require_torch(feature: str = "--enhance gfpgan") -> None:
    """Raise ``EnvironmentProblem`` (exit 6) naming the install command when torch is absent or too old."""
    if not torch_available():
        raise EnvironmentProblem(f"{feature} needs torch, which is not installed", hint=TORCH_INSTALL)
    import torch

    major, minor = (int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    if (major, minor) < (2, 4):  # safe weights_only loading of the official pickle needs a recent torch
        raise EnvironmentProblem(f"{feature} needs torch 2.4 or newer, found {torch.__version__}", hint=TORCH_INSTALL)
