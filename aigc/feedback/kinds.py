"""What kinds of image a model draws: a histogram beside its parent's, so a collapse onto one kind shows.

Issue 13: a VAE child reported as excellent drew one class in 821 of 1000 samples. For Fashion-MNIST
the kinds are the shipped classifier's classes; for a user's own folder, where there are no labels,
k-means clusters of the real images' features (fitted once per report, seeded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 25) -> np.ndarray:
    """(k, D) centres by Lloyd's algorithm from a k-means++ start; small data, plain numpy."""
    x = np.asarray(x, np.float64)
    rng = np.random.default_rng(seed)
    k = min(k, len(x))
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
    c = np.stack(centres)
    for _ in range(iters):
        which = nearest(x, c)
        moved = np.stack([x[which == j].mean(0) if (which == j).any() else c[j] for j in range(k)])
        if np.allclose(moved, c):
            break
        c = moved
    return c


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N,) index of each row's nearest centre."""
    d = (x**2).sum(1)[:, None] - 2 * x @ centres.T + (centres**2).sum(1)[None, :]
    return d.argmin(1)


@dataclass(frozen=True)
class Kinds:
    """Names of the kinds and a way to tell each feature row's kind."""

    names: tuple[str, ...]
    label: str  # "class" or "cluster"
    centres: np.ndarray | None = None  # k-means centres (standardised features); None for classifier classes


def cluster_kinds(real_features: np.ndarray, k: int = 8, seed: int = 0) -> tuple[Kinds, np.ndarray, np.ndarray]:
    """k-means kinds of real images: (Kinds, mean, std) — features are standardised before clustering."""
    mean, std = real_features.mean(0), real_features.std(0) + 1e-6
    centres = kmeans((real_features - mean) / std, k, seed)
    names = tuple(f"cluster {j + 1}" for j in range(len(centres)))
    return Kinds(names, "cluster", centres), mean, std


def largest_share(histogram: list[int]) -> float:
    """The share of the commonest kind: 1.0 means everything is one kind."""
    total = sum(histogram)
    return max(histogram) / total if total else 0.0
