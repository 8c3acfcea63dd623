"""Which images to ask a person to rate next: those the reward model is least sure about, and those that
cover what no rating has seen yet.

Issue 13: with plain random samples a taste can be missed entirely (the rounds benchmark: the first 50
samples held no sandals, so nothing told the reward model sandals were liked). From a pool of fresh
samples, pick greedily by

    score = w · uncertainty + (1 − w) · coverage
    uncertainty = 1 − |2p − 1|            (1 where the reward model says 50/50, 0 where it is sure)
    coverage    = distance to the nearest image already rated (or already picked), / the largest such

so that each pick also counts as "seen" for the next one (no two near-identical picks). Before a reward
model exists (too few ratings), coverage alone: farthest-point sampling, which spreads the first ratings
over every kind of image the model draws.
"""

from __future__ import annotations

import numpy as np

# The pool a page of k picks is chosen from: POOL_PER_PICK·k fresh samples, at most MAX_POOL. 16, was 4: a rule
# that picks the least sure and least covered can only pick them if the pool holds some. Measured by
# `benchmarks/tilt_offline.py --to-rate [--pool-per-pick 4]`; the figures and the page's cost are in
# docs/FEEDBACK_MEASUREMENTS.md ("Why 16× the pool").
POOL_PER_PICK = 16
MAX_POOL = 512


def pool_size(k: int, per_pick: int = POOL_PER_PICK) -> int:
    """How many fresh samples a page of k images to rate next is chosen from (per_pick: for measuring it)."""
    return max(k, min(per_pick * k, MAX_POOL))


def _standardise(pool: np.ndarray, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.concatenate([pool, rated]) if len(rated) else pool
    mean, std = both.mean(0), both.std(0) + 1e-6
    return (pool - mean) / std, ((rated - mean) / std if len(rated) else rated.reshape(0, pool.shape[1]))


def _nearest_distance(x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    if not len(seen):
        return np.full(len(x), np.inf)
    d2 = (x**2).sum(1)[:, None] - 2 * x @ seen.T + (seen**2).sum(1)[None, :]
    return np.sqrt(np.maximum(d2, 0)).min(1)


def select_to_rate(
    pool: np.ndarray,
    rated: np.ndarray,
    k: int,
    probabilities: np.ndarray | None = None,
    uncertainty_weight: float = 0.5,
) -> np.ndarray:
    """Indices of k pool rows to show next (in pick order). pool (M, D) and rated (N, D) are reward features;
    probabilities (M,) the reward model's P(liked) for the pool, None when there is no reward model yet."""
    pool = np.asarray(pool, np.float64)
    rated = np.asarray(rated, np.float64).reshape(-1, pool.shape[1])
    k = min(k, len(pool))
    x, seen = _standardise(pool, rated)
    distance = _nearest_distance(x, seen)
    if probabilities is None:
        uncertainty, w = np.zeros(len(pool)), 0.0
    else:
        uncertainty, w = 1 - np.abs(2 * np.asarray(probabilities, np.float64) - 1), uncertainty_weight
    chosen: list[int] = []
    free = np.ones(len(pool), bool)
    for _ in range(k):
        if np.isinf(distance).all():  # nothing rated yet: start from the most uncertain (or the first) image
            coverage = np.zeros(len(pool))
        else:
            finite = np.where(np.isinf(distance), np.nan, distance)
            coverage = np.nan_to_num(finite / max(np.nanmax(finite[free]) if free.any() else 1.0, 1e-9), nan=1.0)
        score = np.where(free, w * uncertainty + (1 - w) * coverage, -np.inf)
        pick = int(np.argmax(score))
        chosen.append(pick)
        free[pick] = False
        distance = np.minimum(distance, _nearest_distance(x, x[pick : pick + 1]))
    return np.array(chosen, dtype=int)
