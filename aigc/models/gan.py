"""DCGAN (Radford et al. 2015) for 28/32/64-pixel images, grey or colour.

The generator starts with a Linear layer (z → base×base feature map): besides being the
standard DCGAN stem, it lets `aigc.models.latent` read principal latent directions straight off its
weight matrix (GANSpace-style PCA of the first layer's activations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from aigc.models import bounds
from aigc.models.blocks import ladder, refinements, widths


@dataclass
class GANConfig:
    image_size: int = 28
    channels: int = 1
    latent_dim: int = 64
    g_width: int = 64
    d_width: int = 64
    # 'batch': DCGAN's BatchNorm discriminator; 'spectral': spectral normalisation on every layer instead
    # (Miyato et al. 2018), which bounds D's Lipschitz constant and pairs with the hinge loss
    d_norm: str = "batch"
    loss: str = "nonsaturating"  # 'nonsaturating' (DCGAN's BCE) or 'hinge'
    # extra 3×3 convolutions after each of the generator's upsamplings: DCGAN's generator reaches 28 px in two
    # transposed convolutions, which leaves it little room to draw straps, seams and clean outlines
    g_extra_convs: int = 0

    def __post_init__(self) -> None:
        bounds.check_image_model(self, ("g_width", "d_width"), "g_extra_convs")
        if self.d_norm not in ("batch", "spectral"):
            raise ValueError(f"d_norm must be 'batch' or 'spectral', got {self.d_norm!r}")
        if self.loss not in ("nonsaturating", "hinge"):
            raise ValueError(f"loss must be 'nonsaturating' or 'hinge', got {self.loss!r}")


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        base, steps = ladder(cfg.image_size)
        chans = widths(cfg.g_width, steps)
        self.base, self.top = base, chans[0]
        self.stem = nn.Sequential(
            nn.Linear(cfg.latent_dim, chans[0] * base * base, bias=False),
            nn.Unflatten(1, (chans[0], base, base)),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            layers += refinements(c_out, cfg.g_extra_convs, bias=False)
        layers += [nn.ConvTranspose2d(chans[-1], cfg.channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(z))  # (B, C, H, W) in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        base, steps = ladder(cfg.image_size)
        chans = list(reversed(widths(cfg.d_width, steps)))  # width, 2·width, …
        spectral = cfg.d_norm == "spectral"
        sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda layer: layer)
        layers: list[nn.Module] = [sn(nn.Conv2d(cfg.channels, chans[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            if spectral:
                layers += [sn(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            else:
                layers += [
                    nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.LeakyReLU(0.2, True),
                ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), sn(nn.Linear(chans[-1] * base * base, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)  # (B,) logits: real > 0


class GAN(nn.Module):
    """Generator and discriminator travel together: fine-tuning needs both."""

    kind: Literal["gan"] = "gan"

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.cfg = cfg
        self.generator = Generator(cfg)
        self.discriminator = Discriminator(cfg)
        self.apply(_dcgan_init)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


def _dcgan_init(m: nn.Module) -> None:
    """The DCGAN paper's N(0, 0.02) init; it measurably speeds up the first epochs."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
