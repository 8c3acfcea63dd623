"""The reward model's held-out record, honest about its own choices (nested cross-validation).

`fit_reward` chooses its view (one of ~40: blocks of features, or one pixel statistic alone), its L2, the
share of careless thumbs and a calibration on k folds of the ratings. Graded on those same folds, the
winner of ~40 tries looks better than it is: 100 thumbs from a coin flip were "69% predicted correctly" on
the VAE, the page said "Somewhat sure", and the fine-tune narrowed the VAE onto trousers (821 of 1,000
samples) for a rater who liked nothing in particular. Here each of 5 outer folds is predicted by a reward fitted,
choices and all, without it. On real images (`python benchmarks/reward_nested.py`), coin flips' accuracy
was 0.45–0.72 by the choices' own folds and is 0.39–0.63 nested (always guessing: 0.50–0.63), while tastes
without flips lose 0.019 on average (at most 0.10: textured footwear, 11 likes in 60).

Each prediction is graded against the thumb the person gave: a reward that assumes 20% careless thumbs
predicts P(thumb up) = 0.2 + 0.6·P(liked), not P(liked), so its Brier score and log loss stay finite on the
thumbs it rightly doubts. Beside them, the AUC (how often a liked rating is ranked above a disliked one,
which `calibration.no_taste` reads) and `heldout_base_brier`: the Brier score of knowing only how often
these ratings are likes (each outer fold's training share).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from aigc.feedback.calibration import holdout_report
from aigc.feedback.ratings import ReadinessRule

OUTER_FOLDS = 5  # each fifth graded by a fit on the other four
# An outer fold's training part may hold fewer ratings than a run needs; it is fitted all the same, its choices
# made on INNER_FOLDS folds, without the alternative views (a grade reads the chosen one alone): the nested grade
# then costs about 2.4 fits more, where 5 inner folds and the alternatives cost 4 or more.
INNER_READINESS = ReadinessRule(min_ratings=4, min_each=2)
INNER_FOLDS = 3


def inner_config(cfg: Any) -> Any:
    """The RewardConfig of the fits inside the grade: `cfg`'s choices, made more cheaply, and not graded again."""
    return replace(cfg, nested=False, readiness=INNER_READINESS, folds=INNER_FOLDS, view_margin=-1.0)


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k folds, each with its share of likes and dislikes (stratified), so no fold is one-sided."""
    rng = np.random.default_rng(seed)
    k = max(2, min(k, len(y)))
    parts: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for side in (y > 0.5, y <= 0.5):
        for j, i in enumerate(rng.permutation(np.flatnonzero(side))):
            parts[(j + offset) % k].append(int(i))
        offset += int(side.sum())
    return [np.array(sorted(p), dtype=int) for p in parts if p]


def outer_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Stratified outer folds, drawn apart from the inner ones (another seed)."""
    return stratified_folds(y, k, seed + 7919)


def nested_report(
    x: np.ndarray,
    scores: np.ndarray,
    fit,
    seed: int,
    k: int = OUTER_FOLDS,
) -> dict:
    """`holdout_report` of outer-fold predictions of the observed thumbs, plus the base rate's Brier score.

    x, scores: the rated features and their scores (0s already dropped); fit(x, scores, seed) → a RewardModel
    fitted with every choice `fit_reward` makes, on the rows it is given. An outer training part that is
    one-sided or too small to fit (the readiness rule) is graded by its like rate alone: what the run would
    have known.
    """
    y = (np.asarray(scores, np.float64) + 1) / 2
    p = np.empty(len(y))
    base = np.empty(len(y))
    for test in outer_folds(y, k, seed):
        train = np.ones(len(y), bool)
        train[test] = False
        rate = float(y[train].mean())
        base[test] = rate
        try:
            inner = fit(x[train], scores[train], seed)
        except ValueError:  # NotEnoughRatings: this part alone could not be fitted
            p[test] = rate
            continue
        p_true = inner.predict_chosen(x[test])
        p[test] = inner.flip + (1 - 2 * inner.flip) * p_true
    report = holdout_report(p, y)
    report["heldout_base_brier"] = round(float(((base - y) ** 2).mean()), 4)
    report["heldout_nested"] = True
    return report
