"""How far to trust a reward model, measured on ratings it did not see, and said in plain words.

Every figure here comes from cross-fitted predictions: each rating is predicted by a model fitted
without it (k folds). A reward model graded on its own training ratings looks excellent whatever it
learned (issue 13: a run reported FID 310 → 16 for a child that had moved away from the taste).

- `platt`: a scale and shift of the score z, fitted on the held-out scores (Platt 1999). Ridge shrinks
  a small-data logistic towards 0.5 (under-confident); the held-out fit undoes just that much.
- `holdout_report`: accuracy, Brier score, expected calibration error and log loss on the held-out
  predictions, beside the accuracy of always guessing the commoner thumb.
- `confidence`: the same in one sentence, and `warnings`: what to say before a person trains on it.
"""

from __future__ import annotations

import math

import numpy as np

from aigc.feedback.logistic import fit_logistic
from aigc.feedback.ratings import NoTasteFound

PLATT_SCALE_BOUNDS = (0.25, 8.0)  # never flip the score's sign, never sharpen it past a near step


def platt(z: np.ndarray, y: np.ndarray, flip: float = 0.0) -> tuple[float, float]:
    """(a, c) so that σ(a·z + c) is calibrated on held-out scores z with labels y (through the flip link)."""
    z = np.asarray(z, np.float64)
    if len(np.unique(y > 0.5)) < 2 or np.std(z) < 1e-9:
        return 1.0, 0.0
    a, c = fit_logistic(z[:, None], y, l2=1e-3, flip=flip)
    a0 = float(np.clip(a[0], *PLATT_SCALE_BOUNDS))
    if a0 != a[0]:  # refit the shift alone at the bounded scale
        c = _shift_for(a0 * z, y, flip)
    return a0, float(c)


def _shift_for(z: np.ndarray, y: np.ndarray, flip: float) -> float:
    """The c maximising the likelihood of y under σ(z + c) with the flip link (1-D, by bisection on the gradient)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        s = 1 / (1 + np.exp(-np.clip(z + mid, -50, 50)))
        q = np.clip(flip + (1 - 2 * flip) * s, 1e-12, 1 - 1e-12)
        grad = float(((y - q) / (q * (1 - q)) * s * (1 - s)).sum())  # d loglik / dc
        lo, hi = (mid, hi) if grad > 0 else (lo, mid)
    return (lo + hi) / 2


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 5) -> float:
    """Σ_bins (share of predictions in bin) · |mean predicted − observed like rate| (equal-width bins)."""
    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean() for b in np.unique(which)))


def rank_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a liked rating's prediction is above a disliked one's (ties
    count half; Mann–Whitney). It reads the ranking alone, so a taste liked in 3% of the ratings can score
    high where a Brier score cannot beat the like rate. NaN when one side is missing."""
    p, liked = np.asarray(p, np.float64), np.asarray(y, np.float64) > 0.5
    pos, neg = int(liked.sum()), int((~liked).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    _, which, counts = np.unique(p, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[which]  # 1-based, ties at their average rank
    return float((ranks[liked].sum() - pos * (pos + 1) / 2) / (pos * neg))


def holdout_report(p: np.ndarray, y: np.ndarray) -> dict:
    """Held-out quality of predicted like probabilities p against the observed thumbs y (soft labels allowed)."""
    p, y = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6), np.asarray(y, np.float64)
    liked = y > 0.5
    majority = max(liked.mean(), 1 - liked.mean()) if len(y) else float("nan")
    return {
        "heldout_accuracy": round(float(((p > 0.5) == liked).mean()), 4),
        "heldout_majority_accuracy": round(float(majority), 4),
        "heldout_brier": round(float(((p - y) ** 2).mean()), 4),
        "heldout_auc": round(rank_auc(p, y), 4),
        "heldout_ece": round(expected_calibration_error(p, y), 4),
        "heldout_log_loss": round(float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()), 4),
        "heldout_n": len(y),
        # each side's own count and hits: 40 ratings with 5 likes can be 100% right and still say little about
        # where the liked region ends (`confidence`)
        "heldout_liked_n": int(liked.sum()),
        "heldout_liked_correct": int(((p > 0.5) & liked).sum()),
        "heldout_disliked_n": int((~liked).sum()),
        "heldout_disliked_correct": int(((p <= 0.5) & ~liked).sum()),
    }


def wilson_lower(successes: float, n: int, z: float = 1.64) -> float:
    """One-sided 95% lower bound of a proportion (Wilson score interval)."""
    if n == 0:
        return 0.0
    phat = successes / n
    centre = phat + z * z / (2 * n)
    margin = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)


SURE_OVERALL = 0.85  # 'high': the held-out accuracy's lower bound at least this...
SURE_EACH_SIDE = 0.75  # ...and each side's (likes recognised, dislikes recognised) at least this


def side_lower_bounds(report: dict) -> dict[str, float] | None:
    """{'likes': ..., 'dislikes': ...}: the 95% lower bound of the share of each side the held-out models got
    right, or None for a report without the per-side counts (one written before they were kept)."""
    if "heldout_liked_n" not in report:
        return None
    return {
        "likes": wilson_lower(report["heldout_liked_correct"], report["heldout_liked_n"]),
        "dislikes": wilson_lower(report["heldout_disliked_correct"], report["heldout_disliked_n"]),
    }


# `no_taste`: from this many ratings on, when the outer folds' ranking is this close to a coin's (AUC 0.5). Measured
# on real images (`python benchmarks/reward_nested.py`, benchmarks/results_reward_nested.jsonl; 60 and 100 ratings,
# 3 rating sets each): coin flips scored AUC 0.32–0.64 and 28 of 36 are refused; tastes without flips scored at
# least 0.80 (none of 78 refused); with 15% of thumbs flipped 0.41–0.85, 2 of 30 refused, both of 60 ratings in
# which the reward found nothing (AUC 0.41 and 0.51), none of 100. Under 60 ratings a careless taste's figures and
# a coin's overlap too much to refuse on: they hear "Not sure" (`confidence`).
NO_TASTE_MIN_RATINGS = 60
NO_TASTE_AUC = 0.55


def no_taste(report: dict) -> bool:
    """True when models that had not seen the ratings ranked them barely better than a coin would (nested
    held-out AUC at most NO_TASTE_AUC, `nested.nested_report`), from NO_TASTE_MIN_RATINGS ratings on: nothing
    in them tells the liked pictures from the others, and a fine-tune would follow noise (`finetune` refuses
    one). The ranking, not a Brier score: a taste liked in 3% of the ratings cannot beat its like rate's Brier
    score, yet ranks its few likes well."""
    auc = report.get("heldout_auc")
    return (
        bool(report.get("heldout_nested"))
        and report["heldout_n"] >= NO_TASTE_MIN_RATINGS
        and auc is not None
        and not auc > NO_TASTE_AUC  # NaN (one side missing) never reaches here: the readiness rule needs both
    )


def no_taste_message(report: dict) -> str:
    """Why a fine-tune will not start from ratings that show no taste, and what to do."""
    return (
        f"No taste found in these {report['heldout_n']} ratings: models that had not seen them put a liked picture "
        f"above a disliked one in {report['heldout_auc']:.0%} of pairs (a coin flip: 50%), so a fine-tune would "
        "follow noise. Rate more pictures, and rate what you like consistently."
    )


def require_taste(report: dict) -> None:
    """Raise NoTasteFound (its message says why and what to do) when the ratings show no taste (`no_taste`)."""
    if no_taste(report):
        raise NoTasteFound(no_taste_message(report))


def confidence(report: dict) -> tuple[str, str]:
    """(level, sentence): how sure the page is that the reward model learned the taste, from held-out figures.

    'low' when the held-out accuracy is not clearly (95% one-sided) above always guessing the commoner
    thumb; 'high' when its lower bound is at least SURE_OVERALL and each side's at least SURE_EACH_SIDE;
    else 'medium'.

    Why each side: accuracy is mostly the commoner thumb's. A rater of textured pictures gave the VAE 40 thumbs
    with 6 likes; models that had not seen them got all 40 right, and the page said "Fairly sure", but six
    examples say little about where the liked region ends, and the child reached 0.56 of the taste
    (benchmarks/results_feedback_curve.jsonl). Six likes of six have a lower bound of 0.69: "Somewhat sure".
    """
    n, acc, base = report["heldout_n"], report["heldout_accuracy"], report["heldout_majority_accuracy"]
    lower = wilson_lower(acc * n, n)
    pct = f"{acc:.0%} of {n} ratings predicted correctly by models that had not seen them"
    if no_taste(report):
        return "low", no_taste_message(report)
    if lower <= base:
        return "low", (
            f"Not sure: {pct}, not clearly better than always guessing the commoner thumb ({base:.0%}). "
            "The taste may not be learnable from these ratings yet: rate more, or more consistently."
        )
    sides = side_lower_bounds(report)
    weak = [] if sides is None else [side for side, bound in sides.items() if bound < SURE_EACH_SIDE]
    if lower >= SURE_OVERALL and not weak:
        return "high", f"Fairly sure: {pct} (at least {lower:.0%} with 95% confidence)."
    if lower >= SURE_OVERALL:  # sure overall, but one side rests on few examples or is often missed
        side = weak[0]
        key = "heldout_liked" if side == "likes" else "heldout_disliked"
        count, hits = report[f"{key}_n"], report[f"{key}_correct"]
        if hits == count:
            what = "where the taste ends" if side == "likes" else "what is not liked"
            return "medium", f"Somewhat sure: {pct}, but only {count} were {side}: too few to show {what}; rate more."
        return "medium", f"Somewhat sure: {pct}, but only {hits} of the {count} {side}; expect some misses."
    return "medium", f"Somewhat sure: {pct} (at least {lower:.0%} with 95% confidence); expect some misses."


def warnings(report: dict, flip: float, min_clear: int = 40) -> list[str]:
    """What to tell a person before training: ratings too few to tell the taste apart, or contradicting each other."""
    out = []
    level, _ = confidence(report)
    if no_taste(report):
        out.append("A fine-tune will not start from these ratings: they show no taste to learn yet.")
    elif level == "low":
        out.append(
            f"These {report['heldout_n']} ratings are too few or too mixed to tell the taste apart "
            f"(held-out accuracy {report['heldout_accuracy']:.0%} vs {report['heldout_majority_accuracy']:.0%} "
            "by always guessing): the fine-tune may miss it."
        )
    elif report["heldout_n"] < min_clear and level != "high":
        out.append(f"Only {report['heldout_n']} ratings: the taste is learnt roughly; {min_clear} or more help.")
    if flip >= 0.1:
        out.append(
            f"About {flip:.0%} of these thumbs contradict the rest (similar pictures rated both ways, as careless "
            "ratings or several raters of different tastes do); the fine-tune discounts them, but consistent "
            "ratings steer it better."
        )
    return out
