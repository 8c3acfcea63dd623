"""Before training: the page says how sure a run from the ratings would be, and warns when it would not be."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aigc.feedback.advice import advise_scores
from aigc_ui.run_figures import advice_markdown, figures_markdown

from .conftest import rate_by_band


def test_the_studio_advises_on_a_model_s_ratings_and_caches_until_they_change(studio):
    assert studio.ratings_advice("syn-vae").level == "unknown"  # no ratings yet: the readiness line says it
    rate_by_band(studio, "syn-vae", liked_band=2, n=60, rater="r")
    advice = studio.ratings_advice("syn-vae", "r")
    assert advice.level in ("high", "medium") and advice.heldout["heldout_n"] == 60
    assert advice.heldout["heldout_accuracy"] > advice.heldout["heldout_majority_accuracy"]
    assert studio.ratings_advice("syn-vae", "r") is advice  # cached: no second fit
    rate_by_band(studio, "syn-vae", liked_band=2, n=5, rater="r", seed=99)
    assert studio.ratings_advice("syn-vae", "r") is not advice  # a new rating: asked again
    assert "Before you train" in advice_markdown(advice.as_dict())


def test_visitors_asking_about_the_same_ratings_at_once_share_one_fit(studio, monkeypatch):
    """Before: each of them ran its own reward fit of the same ratings (seconds each at a thousand ratings, all on
    the same two cores); now the first fits and the others read its result."""
    from aigc.service import finetuning

    rate_by_band(studio, "syn-vae", liked_band=1, n=30, rater="crowd", seed=7)
    fits, real, start = [], finetuning.assess, threading.Barrier(4)

    def slow_assess(*args, **kwargs):
        fits.append(1)
        time.sleep(0.2)  # a fit takes a while: the other askers arrive meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(finetuning, "assess", slow_assess)

    def ask(_):
        start.wait()
        return studio.ratings_advice("syn-vae", "crowd")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert len(fits) == 1
    assert all(a is answers[0] for a in answers)


def test_random_thumbs_are_flagged_as_too_mixed_before_training():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 20))
    advice = advise_scores(x, np.where(rng.random(40) < 0.5, 1.0, -1.0), [("learned", 20)])
    assert advice.level == "low"
    assert any("too few or too mixed" in w for w in advice.warnings)
    text = advice_markdown(advice.as_dict())
    assert "🔴" in text and "⚠️" in text
    assert advice_markdown({"level": "unknown", "text": "x"}) == ""


def test_the_figures_show_how_sure_they_are_and_a_collapse_onto_one_kind():
    names = ["a", "b", "c", "d"]
    metrics = {
        "mean_reward_before": 0.3,
        "mean_reward_after": 0.9,
        "reward_heldout_accuracy": 0.62,
        "reward_heldout_majority_accuracy": 0.6,
        "reward_heldout_brier": 0.24,
        "reward_heldout_ece": 0.1,
        "confidence": "low",
        "confidence_text": "Not sure: ...",
        "kinds_label": "class",
        "kinds_names": names,
        "kinds_before": [25, 25, 25, 25],
        "kinds_after": [82, 6, 6, 6],
        "largest_kind_share_before": 0.25,
        "largest_kind_share_after": 0.82,
        "eval_n": 100,
    }
    text = figures_markdown(metrics)
    assert "🔴 **How sure:** Not sure" in text and "accuracy **62%**" in text
    assert "| child | 82 | 6 | 6 | 6 |" in text and "| parent | 25 | 25 | 25 | 25 |" in text
    assert "one class in 82% of its samples" in text
    spread = figures_markdown({**metrics, "kinds_after": [40, 30, 20, 10], "largest_kind_share_after": 0.4})
    assert "collapsed" not in spread
    assert "Held-out:" in text and "AUC" not in text  # a run from before nesting says no more than it measured
    nested = figures_markdown({**metrics, "reward_heldout_nested": True, "reward_heldout_auc": 0.57})
    assert "Held-out (nested):" in nested and "above a disliked one in 57% of pairs (AUC)" in nested


def test_a_run_from_before_the_honest_figures_says_its_reward_was_graded_by_the_steering_model():
    old = figures_markdown(
        {"mean_reward_before": 0.2, "mean_reward_after": 0.9, "fid_all_before": 9, "fid_all_after": 12}
    )
    assert "mean predicted P(liked)" in old and "steered the run" in old
    assert "| 9.000 | 12.000 | context |" in old  # FID to all real images rises by design: no verdict
    new = figures_markdown({"mean_reward_before": 0.2, "mean_reward_after": 0.9, "reward_heldout_accuracy": 0.9})
    assert "estimated share you would like" in new


def test_the_figures_say_how_many_blind_picks_the_reward_read():
    figures = {"mean_reward_before": 0.2, "mean_reward_after": 0.9, "n_ratings": 40}
    assert "on 40 ratings and 12 blind A/B picks ·" in figures_markdown({**figures, "n_picks": 12})
    assert "on 40 ratings and 1 blind A/B pick ·" in figures_markdown({**figures, "n_picks": 1})
    assert "on 40 ratings ·" in figures_markdown({**figures, "n_picks": 0})  # older runs have no count at all
    assert "on 40 ratings ·" in figures_markdown(figures)
