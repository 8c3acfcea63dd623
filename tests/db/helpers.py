"""Small builders shared by the feedback database tests."""

from __future__ import annotations

import numpy as np

from feedback_db import FeedbackStore, VersionInfo

LATENT_DIM = 8


def sha(i: int) -> str:
    """A valid, distinct sha256 hex string per integer."""
    return f"{i:064x}"


def latents(n: int, dim: int = LATENT_DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def child_of(store: FeedbackStore, parent: VersionInfo, name: str, i: int = 1) -> VersionInfo:
    return store.register_version(
        name, parent.kind, f"/ckpt/{name}", sha(1000 + i), parent_id=parent.id, latent_dim=parent.latent_dim
    )


def count_rows(store: FeedbackStore) -> tuple[int, int]:
    """(samples, ratings) across all versions."""
    stats = store.stats_per_version()
    return sum(s.n_samples for s in stats), sum(s.n_ratings for s in stats)
