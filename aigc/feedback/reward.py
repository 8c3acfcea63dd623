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

The reward model itself (`fit_reward`, issue 13) reads blocks of features (a learned view, pixel
statistics, a 7×7 layout: `features.RewardFeatures`), and everything about it is chosen on held-out
folds: which view (blocks, or one pixel statistic alone: `views.py`), the L2 strength, the share of
careless thumbs its forward-corrected loss assumes (`logistic.fit_logistic(flip=...)`), and a Platt
calibration (`calibration.platt`). Its fold models grade the run afterwards (`predict_heldout`), so the
figures a person sees are not the steering model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aigc.feedback.calibration import holdout_report, platt
from aigc.feedback.logistic import fit_logistic, logit, predict_proba
from aigc.feedback.nested import inner_config, nested_report
from aigc.feedback.nested import stratified_folds as _folds
from aigc.feedback.ratings import READINESS, NotEnoughRatings, ReadinessRule
from aigc.feedback.views import Block, candidate_views, column_scale, reads_single_column, view_scale

__all__ = ["NotEnoughRatings", "RewardConfig", "RewardModel", "Weights", "fit_reward", "reward_weights"]


VIEW_COMBINATIONS = ("min", "geomean", "mean")  # RewardConfig.view_combine


@dataclass
class RewardConfig:
    readiness: ReadinessRule = READINESS  # how many ratings (and of each side) a reward needs
    l2_grid: tuple[float, ...] = (0.003, 0.03, 0.3, 3.0)  # on block-scaled columns (see `fit_reward`)
    flip_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)  # careless-thumb rates the fit may assume
    folds: int = 5
    calibrate: bool = True  # Platt scale/shift from the held-out scores
    ess_floor: float = 0.1  # effective sample size kept ≥ this fraction of the examples (2,000 of a 20k set)
    max_weight: float = 50.0  # clip after normalising to mean 1
    temperature: float | None = None  # fixed temperature; None → chosen from the ESS floor, never below min_temperature
    min_temperature: float = 0.5  # sharpest automatic temperature: P(liked)²
    min_prob: float = 1e-4  # reward floor: log P(liked) ≥ log(min_prob)
    # Steering reads the least P(liked) of every feature view whose held-out log loss is within this many nats
    # of the best one (0: the best view alone; `RewardModel.predict`). 100 thumbs rarely tell a texture view
    # from a class-and-texture one, and a fine-tune finds the pictures where they disagree: at 0.05 the liked
    # rate rose in all 8 runs probed that missed it (4 GAN, 4 VAE tastes, one rating set each: GAN textured
    # footwear 0.73 → 0.82, top-heavy 0.86 → 0.95, VAE top-heavy 0.90 → 0.96), GAN two-classes held 0.975.
    view_margin: float = 0.05
    # How those views' probabilities combine: "min" (the default), or the softer "geomean" and "mean". Probed
    # with every view's geometric mean on 12 runs that had missed a target (both models; one rating set each;
    # benchmarks/results_feedback_view_combine_probes.jsonl): recall of the liked images rose in 8 (GAN textured
    # footwear 0.46 → 0.66), but the liked rate fell in 8 (VAE textured-careless 0.94 → 0.89); misses of the
    # liked-rate target went 4 → 5 and of recall 8 → 6. "min" stays.
    view_combine: str = "min"
    # Views may also read one pixel statistic alone, or one with the class probabilities (`views.py` says why). Such
    # a view steers only when it is the chosen one, never as one of the alternatives' vetoes: 36 such views are 36
    # chances for a spurious one to tie with the best on 100 thumbs, and as a veto it pulls the tilt towards its one
    # property. Its figures, before → after on both parents' 13 tastes, have one home: the README, step 2 of the
    # loop ("One pixel statistic alone").
    single_columns: bool = True
    # Grade the reward by nested cross-validation (`nested.py` says why): every choice above made again without
    # each outer fold. False inside those inner fits.
    nested: bool = True


@dataclass
class RewardModel:
    """Calibrated logistic P(liked | φ(x)) on standardised, block-scaled features, and its held-out record.

    `coef` is zero on the blocks cross-validation left out. `fold_models` are the k models each fitted
    without one fold of ratings: what grades a run (`predict_heldout`), never the model that steered it.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    l2: float
    cv_accuracy: float
    n_ratings: int
    base_rate: float  # share of likes among the ratings
    flip: float = 0.0  # the careless-thumb rate the fit assumed (chosen by held-out likelihood)
    blocks_used: tuple[str, ...] = ()
    calibration: tuple[float, float] = (1.0, 0.0)
    fold_models: list[tuple[np.ndarray, float]] = field(default_factory=list)
    heldout: dict = field(default_factory=dict)
    n_picks: int = 0  # blind A/B picks read as Bradley–Terry evidence beside the ratings
    # (blocks, scale, coef, bias) of the other views the ratings could not tell from the chosen one
    # (RewardConfig.view_margin): steering combines their P(liked) with the chosen one's (`predict`)
    alternatives: list[tuple[tuple[str, ...], np.ndarray, np.ndarray, float]] = field(default_factory=list)
    view_combine: str = "min"  # RewardConfig.view_combine

    def __post_init__(self) -> None:
        if self.view_combine not in VIEW_COMBINATIONS:
            raise ValueError(f"view_combine must be one of {', '.join(VIEW_COMBINATIONS)}, got {self.view_combine!r}")

    @property
    def blocks_read(self) -> set[str]:
        """Every block a prediction reads: the chosen view's and its alternatives'."""
        return set(self.blocks_used).union(*(set(use) for use, *_ in self.alternatives))

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, np.float64) - self.mean) / self.scale

    def predict_chosen(self, features: np.ndarray) -> np.ndarray:
        """(N, E) features → (N,) P(liked) of the chosen view alone: what weighs real training images.

        Why not `predict`'s combination there: real images are not searched for a high reward, the tilt's and
        🎯's draws are, and a search finds exactly the pictures where one view is wrong. Weighting real images
        by the least over views zeroed every liked kind the views did not all recognise, and the children
        narrowed (docs/FEEDBACK_MEASUREMENTS.md, "Real images weighed by the chosen view alone": both models'
        13 runs, before and after)."""
        return predict_proba(self._standardise(features), self.coef, self.bias)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(N, E) features → (N,) probabilities of being liked by the *true* taste, in [0, 1].

        With alternatives, the least of their probabilities and the chosen view's (view_combine "min"; the
        softer "geomean" and "mean" are for measuring the trade, RewardConfig.view_combine): a picture the steering
        pushes towards must look liked under every view the ratings could not rule out, so a child cannot
        win by drawing what one view mistakes for the taste (a texture view alone liking textured shirts
        for a rater of textured shoes).
        """
        x = np.asarray(features, np.float64)
        views = [self.predict_chosen(x)]
        views += [predict_proba((x - self.mean) / scale, coef, bias) for _, scale, coef, bias in self.alternatives]
        if self.view_combine == "geomean":
            return np.exp(np.mean(np.log(np.clip(views, 1e-12, 1.0)), axis=0))
        if self.view_combine == "mean":
            return np.mean(views, axis=0)
        return np.min(views, axis=0)

    def predict_heldout(self, features: np.ndarray) -> np.ndarray:
        """The mean of the k fold models' probabilities: a grader that is not the steering model."""
        if not self.fold_models:
            return self.predict(features)
        xs = self._standardise(features)
        return np.mean([predict_proba(xs, w, b) for w, b in self.fold_models], axis=0)

    def summary(self) -> dict:
        return {
            "cv_accuracy": round(self.cv_accuracy, 4),
            "l2": self.l2,
            "flip": self.flip,
            "features_used": "+".join(self.blocks_used),
            "n_ratings": self.n_ratings,
            "n_picks": self.n_picks,
            "base_like_rate": round(self.base_rate, 4),
            "steering_views": ["+".join(use) for use, *_ in self.alternatives],
            **self.heldout,
        }


def _loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _heldout_scores(
    xs: np.ndarray, y: np.ndarray, folds: list[np.ndarray], l2: float, flip: float, pairs: np.ndarray | None = None
):
    """Out-of-fold scores z for every rating, and the fold models; A/B picks (`pairs`) train every fold."""
    z = np.zeros(len(y))
    models = []
    for test in folds:
        train = np.ones(len(y), bool)  # every rating but the fold's, in order (as np.setdiff1d, without its sort)
        train[test] = False
        w, b = fit_logistic(xs[train], y[train], l2, flip=flip, pairs=pairs)
        z[test] = logit(xs[test], w, b)
        models.append((w, b))
    return z, models


def _observed(z: np.ndarray, flip: float) -> np.ndarray:
    return flip + (1 - 2 * flip) * predict_proba(z[:, None], np.ones(1), 0.0)


def fit_reward(
    features: np.ndarray,
    scores: np.ndarray,
    cfg: RewardConfig | None = None,
    seed: int = 0,
    blocks: list[Block] | None = None,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> RewardModel:
    """Fit on rated examples (score > 0 liked, < 0 disliked; 0 ignored). Everything is chosen on held-out folds:

    1. which view (`views.candidate_views`) and L2 (log loss of out-of-fold predictions; capacity justified by
       the data);
    2. the careless-thumb rate `flip` and L2 again, for the forward-corrected loss (`logistic.fit_logistic`);
    3. a Platt scale and shift on the out-of-fold scores (calibration), applied to the final and fold models.

    pairs: (features of the picked images, features of the others), (P, E) each: blind A/B picks, used as
    Bradley–Terry rows in every fit (`logistic.fit_logistic(pairs=...)`). They add evidence but never replace
    ratings: the readiness rule and every held-out figure count ratings only.
    """
    cfg = cfg or RewardConfig()
    scores = np.asarray(scores, np.float64)
    keep = scores != 0
    x, s = np.asarray(features, np.float64)[keep], scores[keep]
    cfg.readiness.assess(s).require()
    y = (s + 1) / 2  # stars map to soft labels; thumbs to 0/1
    blocks = list(blocks or [("features", x.shape[1])])
    mean, std = x.mean(0), x.std(0) + 1e-6
    diffs = _pair_differences(pairs, x.shape[1])
    folds = _folds(y, cfg.folds, seed)
    best: tuple[float, tuple[str, ...], float] = (np.inf, (), cfg.l2_grid[0])
    views: dict[tuple[str, ...], tuple[float, float]] = {}  # each view's best (held-out loss, L2)
    for use in candidate_views(blocks, cfg.single_columns):
        cols = column_scale(blocks, use)
        xs = (x - mean) / std * cols
        pairs_s = None if diffs is None else diffs / std * cols
        for l2 in cfg.l2_grid:
            z = _heldout_scores(xs, y, folds, l2, 0.0, pairs_s)[0]
            loss = _loss(predict_proba(z[:, None], np.ones(1), 0.0), y)
            if loss < views.get(use, (np.inf, l2))[0] - 1e-9:
                views[use] = (loss, l2)
            if loss < best[0] - 1e-9:
                best = (loss, use, l2)
    use = best[1]
    scale = view_scale(blocks, use, std)
    xs = (x - mean) / scale
    pairs_s = None if diffs is None else diffs / scale
    chosen = (np.inf, 0.0, best[2])
    for flip in cfg.flip_grid:
        for l2 in cfg.l2_grid:
            loss = _loss(_observed(_heldout_scores(xs, y, folds, l2, flip, pairs_s)[0], flip), y)
            if loss < chosen[0] - 1e-9:
                chosen = (loss, flip, l2)
    _, flip, l2 = chosen
    z, fold_models = _heldout_scores(xs, y, folds, l2, flip, pairs_s)
    a, c = platt(z, y, flip) if cfg.calibrate else (1.0, 0.0)
    w, b = fit_logistic(xs, y, l2, flip=flip, pairs=pairs_s)
    p_heldout = predict_proba((a * z + c)[:, None], np.ones(1), 0.0)
    report = holdout_report(p_heldout, y)
    if cfg.nested:  # the figures above graded the choices on the folds that made them: optimistic
        inner = inner_config(cfg)
        selection_accuracy = report["heldout_accuracy"]
        report = nested_report(x, s, lambda xt, st, sd: fit_reward(xt, st, inner, sd, blocks, pairs), seed)
        report["selection_accuracy"] = selection_accuracy
    alternatives = []
    for other, (loss, other_l2) in views.items():  # views the held-out loss cannot tell from the chosen one
        if other == use or loss > best[0] + cfg.view_margin or reads_single_column(other):
            continue
        other_scale = view_scale(blocks, other, std)
        xo = (x - mean) / other_scale
        po = None if diffs is None else diffs / other_scale
        zo = _heldout_scores(xo, y, folds, other_l2, flip, po)[0]
        ao, co = platt(zo, y, flip) if cfg.calibrate else (1.0, 0.0)
        wo, bo = fit_logistic(xo, y, other_l2, flip=flip, pairs=po)
        alternatives.append((other, other_scale, ao * wo, ao * bo + co))
    return RewardModel(
        mean,
        scale,
        a * w,
        a * b + c,
        l2,
        report["heldout_accuracy"],
        len(y),
        float((y > 0.5).mean()),
        flip=flip,
        blocks_used=use,
        calibration=(round(a, 4), round(c, 4)),
        fold_models=[(a * wk, a * bk + c) for wk, bk in fold_models],
        heldout=report,
        n_picks=0 if diffs is None else len(diffs),
        alternatives=alternatives,
        view_combine=cfg.view_combine,
    )


def _pair_differences(pairs: tuple[np.ndarray, np.ndarray] | None, columns: int) -> np.ndarray | None:
    """(P, E) picked − other, or None when there are no picks; refuses mismatched shapes."""
    if pairs is None:
        return None
    picked, other = (np.asarray(side, np.float64) for side in pairs)
    if picked.shape != other.shape or (len(picked) and picked.shape[1:] != (columns,)):
        raise ValueError(f"A/B pairs must be two (P, {columns}) feature arrays, got {picked.shape} and {other.shape}")
    return picked - other if len(picked) else None


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
