"""A tiny GFPGANv1Clean checkpoint in the official layout, built from a seed (never real weights)."""

from __future__ import annotations

import pytest
import torch

from talkcli.enhance.gfpgan_arch import NAMED_CONFIGS, GFPGANv1Clean

SEED = 7


def make_tiny(seed: int = SEED) -> GFPGANv1Clean:
    torch.manual_seed(seed)
    model = GFPGANv1Clean(NAMED_CONFIGS["tiny"]).eval()
    # The noise strengths and biases start at zero; give them values so a key
    # mix-up on load would change the output.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".weight") and p.numel() == 1 or name.endswith(".bias"):
                p.normal_(0.0, 0.1)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> GFPGANv1Clean:
    return make_tiny()


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory, tiny_model):
    """The official key layout and nothing else: ``{"params_ema": state_dict}``, no stored config."""
    path = tmp_path_factory.mktemp("gfpgan") / "tiny_official_layout.pth"
    torch.save({"params_ema": tiny_model.state_dict()}, path)
    return path
