"""Ratings → reward model → per-example weights.

The target of a fine-tune is the KL-regularised optimum p*(x) ∝ p(x)·exp(r(x)/β): stay close to
the data (or the parent model) and move towards what is liked. Training on examples weighted by
w ∝ exp(r̂(x)/β) approximates it (reward-weighted regression, Peters & Schaal 2007; Lee et al.
2023).

The reward is the log-probability of a like, r̂ = log P(liked | x), floored at log `min_prob`:
then w ∝ P(liked | x)^(1/β), and at β = 1 the target is exactly p(x | liked), the data a rater
would like. Guards against collapsing onto a few images (seen here: liked rate 0.30 → 0.00 with
raw logits): the reward is bounded, β is never below `min_temperature`, and β rises until the effective
sample size is above a floor. `min_temperature` matters: with β free to fall to the ESS floor, the
weights ranked liked examples against each other by how sure the reward model was (a rater who
liked dresses, bags and boots equally got 17% / 49% / 35% of the weight), and the fine-tuned GAN
drew mostly bags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aigc.feedback.logistic import fit_logistic, predict_proba
from aigc.feedback.ratings import READINESS, NotEnoughRatings, ReadinessRule

__all__ = ["NotEnoughRatings", "RewardConfig", "RewardModel", "Weights", "fit_reward", "reward_weights"]


@dataclass
class RewardConfig:
    readiness: ReadinessRule = READINESS  # how many ratings (and of each side) a reward needs
    l2_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    folds: int = 5
    ess_floor: float = 0.1  # effective sample size kept ≥ this fraction of the examples (2,000 of a 20k set)
    max_weight: float = 50.0  # clip after normalising to mean 1
    temperature: float | None = None  # fixed temperature; None → chosen from the ESS floor, never below min_temperature
    min_temperature: float = (
        0.5  # sharpest automatic temperature: P(liked)² (corrects the L2-shrunk reward's under-confidence)
    )
    min_prob: float = 1e-4  # reward floor: log P(liked) ≥ log(min_prob)


@dataclass
class RewardModel:
    """Logistic P(liked | φ(x)) on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    l2: float
    cv_accuracy: float
    n_ratings: int
    base_rate: float  # share of likes among the ratings

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(N, E) features → (N,) probabilities of being liked, in [0, 1]."""
        return predict_proba((np.asarray(features, np.float64) - self.mean) / self.scale, self.coef, self.bias)

    def summary(self) -> dict:
        return {
            "cv_accuracy": round(self.cv_accuracy, 4),
            "l2": self.l2,
            "n_ratings": self.n_ratings,
            "base_like_rate": round(self.base_rate, 4),
        }


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), min(k, n))


def fit_reward(features: np.ndarray, scores: np.ndarray, cfg: RewardConfig | None = None, seed: int = 0) -> RewardModel:
    """Fit on rated examples (score > 0 liked, < 0 disliked; 0 ignored), L2 picked by k-fold CV."""
    cfg = cfg or RewardConfig()
    scores = np.asarray(scores, np.float64)
    keep = scores != 0
    x, s = np.asarray(features, np.float64)[keep], scores[keep]
    cfg.readiness.assess(s).require()
    y = (s + 1) / 2  # stars map to soft labels; thumbs to 0/1
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / scale
    folds = _folds(len(y), cfg.folds, seed)
    best = (-1.0, cfg.l2_grid[0])
    for l2 in cfg.l2_grid:
        correct = 0
        for test in folds:
            train = np.setdiff1d(np.arange(len(y)), test)
            w, b = fit_logistic(xs[train], y[train], l2)
            correct += int(((predict_proba(xs[test], w, b) > 0.5) == (y[test] > 0.5)).sum())
        accuracy = correct / len(y)
        if accuracy > best[0] + 1e-9:
            best = (accuracy, l2)
    w, b = fit_logistic(xs, y, best[1])
    return RewardModel(mean, scale, w, b, best[1], best[0], len(y), float((y > 0.5).mean()))


@dataclass
class Weights:
    weights: np.ndarray  # (N,) mean 1
    temperature: float
    ess: float  # effective sample size, (Σw)² / Σw²
    ess_fraction: float
    clipped: int

    def summary(self) -> dict:
        return {
            "reward_temperature": round(self.temperature, 5),
            "ess": round(self.ess, 1),
            "ess_fraction": round(self.ess_fraction, 4),
            "clipped": self.clipped,
            "max_weight": round(float(self.weights.max()), 3),
        }


def log_reward(probabilities: np.ndarray, min_prob: float = RewardConfig.min_prob) -> np.ndarray:
    """r̂ = log P(liked), floored: bounded in [log min_prob, 0]."""
    return np.log(np.clip(np.asarray(probabilities, np.float64), min_prob, 1.0))


def tilt(probabilities: np.ndarray, temperature: float, min_prob: float = RewardConfig.min_prob) -> np.ndarray:
    """Unnormalised exp(r̂/β) = P(liked)^(1/β): how the liked distribution is drawn from any sample of data."""
    return _exp_tilt(log_reward(probabilities, min_prob), temperature)


def _exp_tilt(rewards: np.ndarray, temperature: float) -> np.ndarray:
    return np.exp((rewards - rewards.max()) / temperature)  # shifted by the max: no overflow, same weights


def _weights_at(rewards: np.ndarray, temperature: float, max_weight: float) -> tuple[np.ndarray, int]:
    w = _exp_tilt(rewards, temperature)
    w = w / w.mean()
    clipped = int((w > max_weight).sum())
    if clipped:
        w = np.minimum(w, max_weight)
        w = w / w.mean()
    return w, clipped


def effective_sample_size(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum())


def reward_weights(probabilities: np.ndarray, cfg: RewardConfig | None = None) -> Weights:
    """P(liked) per example → w ∝ exp(r̂/β), mean 1, clipped.

    β = the smallest value ≥ min_temperature that keeps ESS ≥ floor·N (bisection in log β).
    """
    cfg = cfg or RewardConfig()
    r = log_reward(probabilities, cfg.min_prob)
    n = len(r)
    temperature = cfg.temperature if cfg.temperature is not None else _choose_temperature(r, cfg)
    w, clipped = _weights_at(r, temperature, cfg.max_weight)
    ess = effective_sample_size(w)
    return Weights(w, temperature, ess, ess / n, clipped)


def _choose_temperature(r: np.ndarray, cfg: RewardConfig) -> float:
    """min_temperature if its weights keep ESS ≥ floor·N, else the smallest β that does (bisection in log β)."""

    def ess_ok(temperature: float) -> bool:
        return effective_sample_size(_weights_at(r, temperature, cfg.max_weight)[0]) >= cfg.ess_floor * len(r)

    if ess_ok(cfg.min_temperature):
        return cfg.min_temperature
    lo, hi = np.log(cfg.min_temperature), np.log(1e3)  # large β → uniform weights → ESS = N
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ess_ok(float(np.exp(mid))) else (mid, hi)
    return float(np.exp(hi))
