"""GFPGANv1Clean: the official key layout, strict weights-only loading, configs that travel with the weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from talkcli.enhance.enhancer import load_gfpgan
from talkcli.enhance.gfpgan_arch import NAMED_CONFIGS, GFPGANv1Clean, ModulatedConv2d
from talkcli.errors import EnvironmentProblem, ExitCode
from talkcli.models.registry import get_entry


@pytest.fixture(scope="module")
def official_meta():
    """The full v1.4 architecture on the meta device: shapes only, no memory, no init time."""
    with torch.device("meta"):
        return GFPGANv1Clean(NAMED_CONFIGS["official"])


# Keys and shapes of the official GFPGANv1.4.pth params_ema, as the official
# GFPGANv1Clean(out_size=512, num_style_feat=512, channel_multiplier=2,
# num_mlp=8, different_w=True, narrow=1, sft_half=True) defines them.
OFFICIAL_SHAPES = {
    "conv_body_first.weight": (32, 3, 1, 1),
    "conv_body_down.0.conv1.weight": (32, 32, 3, 3),
    "conv_body_down.6.conv2.weight": (256, 256, 3, 3),
    "final_conv.weight": (256, 256, 3, 3),
    "final_linear.weight": (16 * 512, 256 * 4 * 4),
    "conv_body_up.6.skip.weight": (32, 64, 1, 1),
    "toRGB.6.weight": (3, 32, 1, 1),
    "condition_scale.0.0.weight": (256, 256, 3, 3),
    "condition_shift.6.2.weight": (32, 32, 3, 3),
    "stylegan_decoder.style_mlp.1.weight": (512, 512),
    "stylegan_decoder.style_mlp.15.bias": (512,),
    "stylegan_decoder.constant_input.weight": (1, 512, 4, 4),
    "stylegan_decoder.style_conv1.modulated_conv.modulation.weight": (512, 512),
    "stylegan_decoder.style_conv1.weight": (1,),
    "stylegan_decoder.to_rgb1.bias": (1, 3, 1, 1),
    "stylegan_decoder.style_convs.13.modulated_conv.weight": (1, 64, 64, 3, 3),
    "stylegan_decoder.style_convs.13.bias": (1, 64, 1, 1),
    "stylegan_decoder.to_rgbs.6.modulated_conv.weight": (1, 3, 64, 1, 1),
    "stylegan_decoder.noises.noise0": (1, 1, 4, 4),
    "stylegan_decoder.noises.noise14": (1, 1, 512, 512),
}


def test_official_configuration_has_the_official_keys_and_shapes(official_meta):
    sd = official_meta.state_dict()
    assert len(sd) == 285
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    # Things the official layout does not have: a bias on the skip convs, a 9th MLP layer, a 15-entry noise list.
    assert "conv_body_down.0.skip.bias" not in sd
    assert "stylegan_decoder.style_mlp.17.weight" not in sd
    assert "stylegan_decoder.noises.noise15" not in sd


def test_registry_size_is_the_official_architecture_plus_zip_overhead(official_meta):
    """GFPGANv1.4.pth is a zip of one float32 record per state-dict entry; the registry's size must fit that."""
    sd = official_meta.state_dict()
    tensor_bytes = sum(t.numel() * 4 for t in sd.values())
    assert tensor_bytes == 348_573_104
    overhead = get_entry("gfpgan").size - tensor_bytes
    assert 0 < overhead < 400 * len(sd)  # zip headers, pickle and alignment: a few hundred bytes a record


def test_tiny_checkpoint_in_official_layout_round_trips_exactly(tiny_model, tiny_weights):
    loaded = load_gfpgan(tiny_weights, config="tiny")
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        expected, got = tiny_model(x), loaded(x)
    assert got.shape == (2, 3, 64, 64)
    assert torch.equal(expected, got)
    assert not any(p.requires_grad for p in loaded.parameters())


def test_without_stored_or_named_config_the_official_one_applies_and_tiny_weights_fail_strictly(tiny_weights):
    with pytest.raises(EnvironmentProblem) as info:
        load_gfpgan(tiny_weights)
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "512px" in info.value.message and "size mismatches" in info.value.message and "missing keys" in info.value.message


def test_config_stored_with_the_weights_is_used_and_a_contradicting_request_refused(tmp_path, tiny_model):
    path = tmp_path / "with_config.pth"
    torch.save({"params_ema": tiny_model.state_dict(), "config": NAMED_CONFIGS["tiny"].to_dict()}, path)
    assert load_gfpgan(path).config == NAMED_CONFIGS["tiny"]
    with pytest.raises(EnvironmentProblem, match="saved with config"):
        load_gfpgan(path, config="official")


def test_renamed_key_fails_strict_loading(tmp_path, tiny_model):
    sd = dict(tiny_model.state_dict())
    sd["final_linear.weights"] = sd.pop("final_linear.weight")
    path = tmp_path / "renamed.pth"
    torch.save({"params_ema": sd}, path)
    with pytest.raises(EnvironmentProblem) as info:
        load_gfpgan(path, config="tiny")
    assert "final_linear.weight" in info.value.message and "final_linear.weights" in info.value.message


def test_extra_key_fails_strict_loading(tmp_path, tiny_model):
    sd = dict(tiny_model.state_dict())
    sd["stylegan_decoder.noises.noise99"] = torch.zeros(1)
    path = tmp_path / "extra.pth"
    torch.save({"params_ema": sd}, path)
    with pytest.raises(EnvironmentProblem, match="noise99"):
        load_gfpgan(path, config="tiny")


def test_params_key_is_accepted_like_the_official_loader(tmp_path, tiny_model):
    path = tmp_path / "params.pth"
    torch.save({"params": tiny_model.state_dict()}, path)
    assert load_gfpgan(path, config="tiny").config.out_size == 64


def test_checkpoint_without_params_is_refused(tmp_path, tiny_model):
    path = tmp_path / "bare.pth"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(EnvironmentProblem, match="params_ema"):
        load_gfpgan(path, config="tiny")


class _Payload:
    """Unpickling this would create a file: weights_only=True must refuse it before that."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_code_is_refused_by_weights_only_loading(tmp_path, tiny_model):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"params_ema": tiny_model.state_dict(), "extra": _Payload(marker)}, path)
    with pytest.raises(EnvironmentProblem, match="weights_only=True"):
        load_gfpgan(path, config="tiny")
    assert not marker.exists()


def test_truncated_file_is_an_environment_problem(tmp_path, tiny_weights):
    path = tmp_path / "truncated.pth"
    path.write_bytes(tiny_weights.read_bytes()[:1000])
    with pytest.raises(EnvironmentProblem, match="cannot be loaded"):
        load_gfpgan(path, config="tiny")


def _grouped_reference(layer: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The original formulation: one modulated weight per sample, grouped convolution."""
    b, c = x.shape[:2]
    w = layer.weight * layer.modulation(style).view(b, 1, c, 1, 1)
    if layer.demodulate:
        w = w * torch.rsqrt(w.pow(2).sum([2, 3, 4]) + layer.eps).view(b, layer.out_channels, 1, 1, 1)
    if layer.sample_mode == "upsample":
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    k = layer.kernel_size
    out = F.conv2d(x.reshape(1, b * c, *x.shape[2:]), w.view(b * layer.out_channels, c, k, k), padding=layer.padding, groups=b)
    return out.view(b, layer.out_channels, *out.shape[2:])


@pytest.mark.parametrize("kernel,demodulate,sample_mode", [(3, True, None), (3, True, "upsample"), (1, False, None)])
def test_shared_weight_modulated_conv_equals_the_grouped_original(kernel, demodulate, sample_mode):
    torch.manual_seed(1)
    layer = ModulatedConv2d(6, 5, kernel, 8, demodulate=demodulate, sample_mode=sample_mode)
    x, style = torch.randn(3, 6, 8, 8), torch.randn(3, 8)
    with torch.no_grad():
        got, want = layer(x, style), _grouped_reference(layer, x, style)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_stored_noise_makes_the_output_deterministic_and_random_noise_does_not(tiny_model):
    x = torch.zeros(1, 3, 64, 64)
    with torch.inference_mode():
        a, b = tiny_model(x), tiny_model(x)
        c = tiny_model(x, randomize_noise=True)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert math.isfinite(float(a.abs().max()))
