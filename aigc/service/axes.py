"""Slider axes over a model's latent space, the same mechanism for GAN and VAE.

An explorer state is z = residual + Σ aᵢ·basisᵢ (+ t·taste). The basis rows are orthonormal:
for a VAE, unit vectors of its latent dimensions ordered by KL (most used first); for a GAN, the
principal directions of its first layer. Loading any z into the sliders splits it into
coordinates a = B z and the residual z − Bᵀa, so no information is lost when only a few
sliders are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aigc.models.latent import gan_directions


@dataclass(frozen=True)
class LatentAxes:
    basis: np.ndarray  # (k, D) orthonormal rows
    names: tuple[str, ...]
    importance: np.ndarray  # (k,) share of variance (GAN) or KL in nats (VAE), descending
    slider_range: float = 3.0

    @property
    def k(self) -> int:
        return self.basis.shape[0]

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """z (D,) → (coordinates (k,), residual (D,))."""
        z = np.asarray(z, np.float32)
        coords = self.basis @ z
        return coords.astype(np.float32), (z - self.basis.T @ coords).astype(np.float32)

    def compose(
        self, coords: np.ndarray, residual: np.ndarray, taste: np.ndarray | None = None, taste_amount: float = 0.0
    ) -> np.ndarray:
        z = np.asarray(residual, np.float32) + self.basis.T @ np.asarray(coords, np.float32)
        if taste is not None and taste_amount:
            z = z + taste_amount * np.asarray(taste, np.float32)
        return z.astype(np.float32)


def vae_axes(latent_dim: int, latent_kl: list[float] | None) -> LatentAxes:
    kl = np.asarray(latent_kl if latent_kl else np.ones(latent_dim), np.float32)
    order = np.argsort(-kl, kind="stable")
    basis = np.eye(latent_dim, dtype=np.float32)[order]
    return LatentAxes(basis, tuple(f"z[{i}]" for i in order), kl[order])


def gan_axes(generator, k: int = 10) -> LatentAxes:
    basis, share = gan_directions(generator, k)
    return LatentAxes(
        basis.astype(np.float32), tuple(f"PC{i + 1}" for i in range(basis.shape[0])), share, slider_range=6.0
    )
