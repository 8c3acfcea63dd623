"""The reward's held-out record is graded by nested cross-validation, and ratings that show no taste are refused."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.feedback.calibration import NO_TASTE_AUC, NO_TASTE_MIN_RATINGS, confidence, no_taste, rank_auc
from aigc.feedback.reward import RewardConfig, fit_reward

# many views to choose from: the more a fit may choose, the better the winner looks on the folds that chose it
BLOCKS = [(f"b{i}", 3) for i in range(12)]


def coin_thumbs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 36)), np.where(rng.random(n) < 0.5, 1.0, -1.0)


def test_rank_auc_is_the_share_of_liked_disliked_pairs_in_order_ties_half():
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, y = rng.integers(0, 5, 40) / 4, (rng.random(40) < 0.3).astype(float)
        brute = np.mean([(a > b) + 0.5 * (a == b) for a in p[y > 0] for b in p[y == 0]])
        assert rank_auc(p, y) == pytest.approx(brute)
    assert rank_auc(np.array([0.9, 0.1]), np.array([1.0, 0.0])) == 1.0
    assert np.isnan(rank_auc(np.array([0.9, 0.1]), np.array([1.0, 1.0])))


def test_the_nested_figures_are_not_flattered_by_the_fits_own_choices():
    """On coin flips the choices' own folds find a winner that looks better than chance; the outer folds do not."""
    chosen, honest, auc = [], [], []
    for seed in range(4):
        x, y = coin_thumbs(80, seed)
        reward = fit_reward(x, y, seed=seed, blocks=BLOCKS)
        assert reward.heldout["heldout_nested"] and reward.heldout["heldout_n"] == 80
        chosen.append(reward.heldout["selection_accuracy"])
        honest.append(reward.heldout["heldout_accuracy"])
        auc.append(reward.heldout["heldout_auc"])
        assert reward.cv_accuracy == reward.heldout["heldout_accuracy"]  # the progress line's figure is the honest one
    assert np.mean(chosen) > np.mean(honest) + 0.04, (chosen, honest)
    assert np.mean(honest) < 0.56 and np.mean(auc) < 0.56, (honest, auc)


def test_a_real_taste_keeps_its_figures_under_nesting_and_is_not_called_tasteless():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 36))
    y = np.where(x[:, 4] + 0.3 * rng.standard_normal(80) > 0.8, 1.0, -1.0)  # a property; ~20% liked
    reward = fit_reward(x, y, blocks=BLOCKS)
    assert reward.heldout["heldout_accuracy"] >= 0.85 and reward.heldout["heldout_auc"] >= 0.8
    assert reward.heldout["heldout_accuracy"] >= reward.heldout["selection_accuracy"] - 0.1
    assert not no_taste(reward.heldout)
    assert confidence(reward.heldout)[0] != "low"


def test_no_taste_needs_enough_ratings_a_nested_record_and_a_coins_ranking():
    record = {"heldout_nested": True, "heldout_n": NO_TASTE_MIN_RATINGS, "heldout_auc": NO_TASTE_AUC}
    assert no_taste(record)
    assert not no_taste({**record, "heldout_auc": NO_TASTE_AUC + 0.01})
    assert not no_taste({**record, "heldout_n": NO_TASTE_MIN_RATINGS - 1})  # too few to refuse on
    assert not no_taste({**record, "heldout_nested": False})  # an optimistic record never refuses
    assert not no_taste({"heldout_n": 100, "heldout_accuracy": 0.5})  # a report from before nesting


def test_without_nesting_the_record_is_the_choices_own():
    x, y = coin_thumbs(60, 1)
    reward = fit_reward(x, y, RewardConfig(nested=False), blocks=BLOCKS)
    assert "heldout_nested" not in reward.heldout and not no_taste(reward.heldout)
