"""Convolutional VAE (Kingma & Welling 2013) with a per-example weighted ELBO.

Pixels are modelled as Bernoulli probabilities of the [0, 1] intensity (the usual choice for
MNIST-like data; sharper than a fixed-variance Gaussian). The ELBO takes optional per-example
weights so the one training loop can fine-tune towards what raters liked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from aigc.models import bounds
from aigc.models.blocks import ladder, refinements, widths


@dataclass
class VAEConfig:
    image_size: int = 28
    channels: int = 1
    latent_dim: int = 16
    width: int = 32
    hidden: int = 256
    kl_weight: float = 1.0  # the ELBO's KL weight (β of a β-VAE); 1.0 is the plain ELBO
    # 3×3 convolutions after each of the decoder's upsamplings, the last one included (it then draws at full
    # resolution before a 3×3 convolution to the image's channels). 0: DCGAN's shape, whose last transposed
    # convolution goes straight from half resolution to pixels, with no room to draw a coat's opening or a seam
    d_extra_convs: int = 0

    def __post_init__(self) -> None:
        bounds.check_image_model(self, ("width",), "d_extra_convs")
        bounds.check_whole("hidden", self.hidden, bounds.HIDDEN)
        bounds.check_weight("kl_weight", self.kl_weight)


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        base, steps = ladder(cfg.image_size)
        chans = list(reversed(widths(cfg.width, steps)))
        layers: list[nn.Module] = []
        c_prev = cfg.channels
        for c in chans:
            layers += [nn.Conv2d(c_prev, c, 4, 2, 1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2, True)]
            c_prev = c
        self.features = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(c_prev * base * base, cfg.hidden), nn.LeakyReLU(0.2, True)
        )
        self.mu = nn.Linear(cfg.hidden, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.mu(h), self.logvar(h).clamp(-12, 8)  # (B, D) each


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        base, steps = ladder(cfg.image_size)
        chans = widths(cfg.width, steps)
        self.stem = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden),
            nn.ReLU(True),
            nn.Linear(cfg.hidden, chans[0] * base * base),
            nn.ReLU(True),
            nn.Unflatten(1, (chans[0], base, base)),
        )
        layers: list[nn.Module] = []
        extra = cfg.d_extra_convs
        ups = zip(chans[:-1], chans[1:]) if not extra else zip(chans, [*chans[1:], chans[-1]])
        for c_in, c_out in ups:
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            layers += refinements(c_out, extra)
        if extra:  # the full-resolution features become pixels through a 3×3 convolution
            layers += [nn.Conv2d(chans[-1], cfg.channels, 3, 1, 1)]
        else:  # the shipped layout: a checkpoint trained without extra convolutions keeps its module names
            layers += [nn.ConvTranspose2d(chans[-1], cfg.channels, 4, 2, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(z))  # (B, C, H, W) logits of the [0, 1] intensity


class VAE(nn.Module):
    kind: Literal["vae"] = "vae"

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)) * 2 - 1  # (B, C, H, W) in [-1, 1]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x)

    def loss(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
        perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO per pixel-sum, averaged over the batch with optional per-example weights.

        eps: the (B, D) reparameterisation noise when the caller draws it (a data-parallel rank
        takes its rows of the global batch's noise); otherwise drawn from `generator`.
        perceptual: (images, reconstructions) → (B,) added to each example's loss, already weighted
        (`aigc.training.perceptual`): the per-pixel term alone lets the decoder average details away.
        """
        mu, logvar = self.encoder(x)
        if eps is None:
            eps = (
                torch.randn(mu.shape, generator=generator, device=mu.device)
                if generator is not None
                else torch.randn_like(mu)
            )
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decoder(z)
        target = (x + 1) * 0.5
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)  # (B,)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # (B,)
        per_example = recon + self.cfg.kl_weight * kl
        parts = {"recon": recon.detach().mean().item(), "kl": kl.detach().mean().item()}
        if perceptual is not None:
            distance = perceptual(x, torch.sigmoid(logits) * 2 - 1)
            per_example = per_example + distance
            parts["perceptual"] = distance.detach().mean().item()
        w = torch.ones_like(per_example) if weights is None else weights
        loss = (w * per_example).sum() / w.sum()
        return loss, parts
