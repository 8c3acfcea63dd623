"""The latent space: seeds → z, interpolation, principal GAN directions, VAE dimension order.

z for (seed, n) is drawn on the CPU from its own `torch.Generator`, so the same seed gives the
same images on any device and two users never share randomness.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aigc.models.batched import infer
from aigc.models.vae import VAE


def seeded_latents(seed: int, n: int, dim: int, truncation: float | None = None) -> torch.Tensor:
    """(n, dim) standard-normal latents from `seed`; truncation resamples |z| > t (BigGAN's trick)."""
    gen = torch.Generator().manual_seed(int(seed) % (2**63))
    z = torch.randn(n, dim, generator=gen)
    if truncation is not None and truncation > 0:
        for _ in range(100):
            outside = z.abs() > truncation
            if not outside.any():
                break
            z[outside] = torch.randn(int(outside.sum()), generator=gen)
        z.clamp_(-truncation, truncation)
    return z


def seeded_uniform(seed: int, n: int) -> np.ndarray:
    """(n,) uniforms in [0, 1) from `seed`, a stream apart from seeded_latents' (a fitted prior's component choice)."""
    gen = torch.Generator().manual_seed((int(seed) + 0x9E3779B97F4A7C15) % (2**63))
    return torch.rand(n, generator=gen, dtype=torch.float64).numpy()


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: keeps the norm a Gaussian latent expects (White 2016)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, t).astype(np.float32)
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:
        return lerp(a, b, t).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)


def interpolation_path(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) slerp path from a to b inclusive."""
    return np.stack([slerp(a, b, t) for t in np.linspace(0.0, 1.0, max(2, steps))])


def gan_directions(generator: nn.Module, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Top-k principal directions of the generator's first-layer activations, pulled back to z.

    GANSpace (Härkönen et al. 2020) runs PCA on early-layer activations of many samples. Our first
    layer is linear (h = W z) and z is isotropic, so cov(h) = W Wᵀ and its principal axes pulled back
    to z are exactly W's right singular vectors: the same answer without sampling. Returns
    (directions (k, D) unit rows, their share of explained variance (k,)).
    """
    linear = next(m for m in generator.modules() if isinstance(m, nn.Linear))
    w = linear.weight.detach().double().cpu()  # (H, D)
    _, s, vh = torch.linalg.svd(w, full_matrices=False)
    var = s.pow(2)
    k = min(k, vh.shape[0])
    return vh[:k].float().numpy(), (var[:k] / var.sum()).float().numpy()


def vae_dimension_kl(model: VAE, images: torch.Tensor, batch: int = 512) -> np.ndarray:
    """Mean KL per latent dimension over `images`: dims near 0 are unused ('posterior collapse')."""

    def kl_sum(chunk: torch.Tensor) -> torch.Tensor:
        mu, logvar = model.encode(chunk)
        return (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).sum(0).double().cpu()

    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    for chunk_sum in infer(kl_sum, images, batch):
        total += chunk_sum
    return (total / images.shape[0]).float().numpy()
