"""GFPGANv1Clean in plain torch: a U-Net encoder whose features steer a StyleGAN2 decoder (SFT).

A re-implementation of the architecture published in TencentARC/GFPGAN
(``gfpgan/archs/gfpganv1_clean_arch.py`` and ``stylegan2_clean_arch.py``),
written so that the official ``GFPGANv1.4.pth`` ``params_ema`` state dict
loads with ``strict=True``: every module attribute name, ``ModuleList``
order, ``Sequential`` index and parameter shape mirrors the original, because
the state-dict keys are derived from them. It needs only torch (no basicsr,
facexlib or torchvision) and keeps only the inference path: no training-time
initialisation, style mixing or truncation.

Two deliberate differences from the original forward pass, neither of which
changes a state-dict key:

- ``ModulatedConv2d`` modulates the input activations and demodulates the
  output instead of building one weight tensor per sample and running a
  grouped convolution. The two are the same function (the modulation is a
  per-input-channel scale and the demodulation a per-output-channel scale,
  both linear, and a per-channel scale commutes with bilinear upsampling),
  but the shared-weight form runs one ordinary convolution for a whole
  batch, which is what makes batching frames pay off on CPU and GPU.
- The noise injected by each ``StyleConv`` defaults to the fixed noise
  buffers stored in the checkpoint (``randomize_noise=False``) rather than
  fresh Gaussian noise per call: a video restored frame by frame must not
  re-draw its skin and hair texture on every frame.

Shapes: images are ``(B, 3, out_size, out_size) float32`` in ``[-1, 1]``, RGB.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class GfpganConfig:
    """Constructor arguments of ``GFPGANv1Clean``; the defaults are those of GFPGAN v1.3/v1.4 ("official")."""

    out_size: int = 512
    num_style_feat: int = 512
    channel_multiplier: int = 2
    num_mlp: int = 8
    narrow: float = 1.0
    sft_half: bool = True
    different_w: bool = True
    input_is_latent: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GfpganConfig:
        """Build from a stored dict; unknown keys are an error, never silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown GFPGAN config keys: {', '.join(unknown)}")
        return cls(**data)

    def validate(self) -> None:
        log = math.log2(self.out_size)
        if self.out_size < 8 or log != int(log):
            raise ValueError(f"out_size must be a power of two >= 8, got {self.out_size}")
        if self.out_size > 1024:
            raise ValueError(f"out_size above 1024 is not part of the architecture, got {self.out_size}")
        if self.sft_half:
            for res, ch in _decoder_channels(self).items():
                if res <= self.out_size and ch % 2:
                    raise ValueError(f"sft_half needs even decoder channels; {res}px has {ch}")


# The tiny configuration is for tests and CI smoke runs: the same modules and
# key layout as "official", a few thousand parameters, milliseconds per frame.
NAMED_CONFIGS: dict[str, GfpganConfig] = {
    "official": GfpganConfig(),
    "tiny": GfpganConfig(out_size=64, num_style_feat=16, channel_multiplier=1, num_mlp=2, narrow=1 / 32),
}


def _channel_table(width: float, channel_multiplier: int) -> dict[int, int]:
    """Channels per resolution of StyleGAN2 (``width`` is ``narrow`` for the decoder, half that for the U-Net)."""
    base = {4: 512, 8: 512, 16: 512, 32: 512}
    grown = {64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    table = {res: int(c * width) for res, c in base.items()}
    table.update({res: int(c * channel_multiplier * width) for res, c in grown.items()})
    return table


def _decoder_channels(cfg: GfpganConfig) -> dict[int, int]:
    return _channel_table(cfg.narrow, cfg.channel_multiplier)


def _unet_channels(cfg: GfpganConfig) -> dict[int, int]:
    return _channel_table(cfg.narrow * 0.5, cfg.channel_multiplier)


def _resize2x(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------
# StyleGAN2 ("clean": no custom CUDA ops) pieces.


class NormStyleCode(nn.Module):
    """Pixel norm of a ``(B, C)`` style code. No parameters, index 0 of ``style_mlp``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution without bias.

    Parameters (names fixed by the checkpoint): ``modulation`` (Linear
    num_style_feat -> in_channels) and ``weight`` ``(1, out, in, k, k)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_style_feat: int,
                 demodulate: bool = True, sample_mode: str | None = None, eps: float = 1e-8) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.sample_mode = sample_mode
        self.eps = eps
        self.padding = kernel_size // 2
        self.modulation = nn.Linear(num_style_feat, in_channels, bias=True)
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size) / math.sqrt(in_channels * kernel_size**2))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, in, H, W)``, ``style`` ``(B, num_style_feat)`` -> ``(B, out, H', W')``."""
        s = self.modulation(style)  # (B, in): one scale per input channel and sample
        w = self.weight[0]  # (out, in, k, k), shared by the batch
        if self.sample_mode == "upsample":
            x = _resize2x(x, 2.0)
        elif self.sample_mode == "downsample":
            x = _resize2x(x, 0.5)
        out = F.conv2d(x * s[:, :, None, None], w, padding=self.padding)
        if self.demodulate:
            # ||w[o] * s[b]||^2 = sum_i s[b,i]^2 * sum_k w[o,i,k]^2
            demod = torch.rsqrt(s.pow(2) @ w.pow(2).sum(dim=(2, 3)).t() + self.eps)  # (B, out)
            out = out * demod[:, :, None, None]
        return out


class StyleConv(nn.Module):
    """Modulated 3x3 conv, noise injection (``weight`` is its strength), ``bias``, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_style_feat: int,
                 demodulate: bool = True, sample_mode: str | None = None) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_channels, out_channels, kernel_size, num_style_feat, demodulate=demodulate, sample_mode=sample_mode)
        self.weight = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style) * math.sqrt(2.0)  # gain of the original's fused leaky ReLU
        if noise is None:
            noise = out.new_empty(out.shape[0], 1, *out.shape[2:]).normal_()
        out = out + self.weight * noise + self.bias
        return F.leaky_relu(out, 0.2)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) plus the upsampled RGB of the previous level."""

    def __init__(self, in_channels: int, num_style_feat: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_channels, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            out = out + (_resize2x(skip, 2.0) if self.upsample else skip)
        return out


class ConstantInput(nn.Module):
    """The learned 4x4 starting tensor of the decoder (``weight`` ``(1, C, 4, 4)``)."""

    def __init__(self, num_channel: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, num_channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.weight.expand(batch, -1, -1, -1)


class StyleGAN2GeneratorCSFT(nn.Module):
    """StyleGAN2 decoder whose features are modulated by the U-Net's scale/shift maps (SFT)."""

    def __init__(self, out_size: int, num_style_feat: int = 512, num_mlp: int = 8, channel_multiplier: int = 2,
                 narrow: float = 1.0, sft_half: bool = False) -> None:
        super().__init__()
        self.num_style_feat = num_style_feat
        self.sft_half = sft_half
        # Style MLP: Sequential(NormStyleCode, Linear, LeakyReLU, Linear, ...) -> keys style_mlp.1, .3, ...
        layers: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            layers += [nn.Linear(num_style_feat, num_style_feat), nn.LeakyReLU(0.2)]
        self.style_mlp = nn.Sequential(*layers)

        ch = _channel_table(narrow, channel_multiplier)
        self.channels = {str(k): v for k, v in ch.items()}
        self.log_size = int(math.log2(out_size))
        self.num_layers = (self.log_size - 2) * 2 + 1  # StyleConvs, counting style_conv1
        self.num_latent = self.log_size * 2 - 2  # style vectors consumed (convs + to_rgbs)

        self.constant_input = ConstantInput(ch[4], size=4)
        self.style_conv1 = StyleConv(ch[4], ch[4], 3, num_style_feat)
        self.to_rgb1 = ToRGB(ch[4], num_style_feat, upsample=False)

        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer in range(self.num_layers):
            res = 2 ** ((layer + 5) // 2)  # 4, 8, 8, 16, 16, ...
            self.noises.register_buffer(f"noise{layer}", torch.randn(1, 1, res, res))
        in_ch = ch[4]
        for level in range(3, self.log_size + 1):
            out_ch = ch[2**level]
            self.style_convs.append(StyleConv(in_ch, out_ch, 3, num_style_feat, sample_mode="upsample"))
            self.style_convs.append(StyleConv(out_ch, out_ch, 3, num_style_feat))
            self.to_rgbs.append(ToRGB(out_ch, num_style_feat, upsample=True))
            in_ch = out_ch

    def stored_noise(self) -> list[torch.Tensor]:
        return [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]

    def forward(self, latent: torch.Tensor, conditions: list[torch.Tensor], randomize_noise: bool = False) -> torch.Tensor:
        """``latent`` ``(B, num_latent, F)`` (one style per layer) or ``(B, F)``; returns ``(B, 3, S, S)``."""
        if latent.ndim == 2:
            latent = latent[:, None, :].expand(-1, self.num_latent, -1)
        noise = [None] * self.num_layers if randomize_noise else self.stored_noise()
        out = self.style_conv1(self.constant_input(latent.shape[0]), latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.style_convs[2 * k](out, latent[:, i], noise=noise[i])
            if i < len(conditions):  # conditions[i-1] is the scale, conditions[i] the shift
                if self.sft_half:
                    keep, mod = torch.split(out, out.shape[1] // 2, dim=1)
                    out = torch.cat([keep, mod * conditions[i - 1] + conditions[i]], dim=1)
                else:
                    out = out * conditions[i - 1] + conditions[i]
            out = self.style_convs[2 * k + 1](out, latent[:, i + 1], noise=noise[i + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


# --------------------------------------------------------------------------
# The U-Net and the whole model.


class ResBlock(nn.Module):
    """Residual block that halves (``down``) or doubles (``up``) the resolution bilinearly."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "down") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        if mode not in ("down", "up"):
            raise ValueError(f"mode must be down or up, got {mode!r}")
        self.scale_factor = 0.5 if mode == "down" else 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.conv1(x), 0.2)
        out = F.leaky_relu(self.conv2(_resize2x(out, self.scale_factor)), 0.2)
        return out + self.skip(_resize2x(x, self.scale_factor))


def _sft_branch(channels: int, out_channels: int) -> nn.Sequential:
    # Sequential indices 0 and 2 carry weights: keys condition_scale.{i}.0 / .2
    return nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(channels, out_channels, 3, 1, 1))


class GFPGANv1Clean(nn.Module):
    """GFPGAN v1 "clean": ``forward((B, 3, S, S) in [-1, 1]) -> (B, 3, S, S)`` restored face, RGB, about [-1, 1]."""

    def __init__(self, config: GfpganConfig | None = None) -> None:
        super().__init__()
        cfg = config or GfpganConfig()
        cfg.validate()
        self.config = cfg
        self.input_is_latent = cfg.input_is_latent
        self.different_w = cfg.different_w
        self.num_style_feat = cfg.num_style_feat
        self.log_size = int(math.log2(cfg.out_size))
        ch = _unet_channels(cfg)

        self.conv_body_first = nn.Conv2d(3, ch[cfg.out_size], 1)
        self.conv_body_down = nn.ModuleList()
        in_ch = ch[cfg.out_size]
        for level in range(self.log_size, 2, -1):  # out_size/2 ... 4
            self.conv_body_down.append(ResBlock(in_ch, ch[2 ** (level - 1)], mode="down"))
            in_ch = ch[2 ** (level - 1)]
        self.final_conv = nn.Conv2d(in_ch, ch[4], 3, 1, 1)

        self.conv_body_up = nn.ModuleList()
        in_ch = ch[4]
        for level in range(3, self.log_size + 1):  # 8 ... out_size
            self.conv_body_up.append(ResBlock(in_ch, ch[2**level], mode="up"))
            in_ch = ch[2**level]
        # Intermediate RGB heads: used in training only, kept so the checkpoint loads strictly.
        self.toRGB = nn.ModuleList(nn.Conv2d(ch[2**level], 3, 1) for level in range(3, self.log_size + 1))

        n_styles = (self.log_size * 2 - 2) if cfg.different_w else 1
        self.final_linear = nn.Linear(ch[4] * 4 * 4, n_styles * cfg.num_style_feat)

        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size=cfg.out_size, num_style_feat=cfg.num_style_feat, num_mlp=cfg.num_mlp,
            channel_multiplier=cfg.channel_multiplier, narrow=cfg.narrow, sft_half=cfg.sft_half,
        )

        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for level in range(3, self.log_size + 1):
            c = ch[2**level]
            sft_out = c if cfg.sft_half else 2 * c
            self.condition_scale.append(_sft_branch(c, sft_out))
            self.condition_shift.append(_sft_branch(c, sft_out))

    def forward(self, x: torch.Tensor, randomize_noise: bool = False) -> torch.Tensor:
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            skips.append(feat)
        feat = F.leaky_relu(self.final_conv(feat), 0.2)

        style = self.final_linear(feat.flatten(1))
        if self.different_w:
            style = style.view(style.shape[0], -1, self.num_style_feat)

        conditions = []
        for k, up in enumerate(self.conv_body_up):
            feat = up(feat + skips[-1 - k])
            conditions.append(self.condition_scale[k](feat))
            conditions.append(self.condition_shift[k](feat))

        if not self.input_is_latent:
            style = self.stylegan_decoder.style_mlp(style)
        return self.stylegan_decoder(style, conditions, randomize_noise=randomize_noise)
