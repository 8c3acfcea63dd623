"""The reward model for any taste: block choice, careless raters, calibration, honest held-out figures."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.feedback.calibration import confidence, expected_calibration_error, holdout_report, platt, warnings
from aigc.feedback.logistic import fit_logistic, predict_proba
from aigc.feedback.reward import RewardConfig, fit_reward

BLOCKS = [("learned", 30), ("stats", 17)]
PLAIN = RewardConfig(flip_grid=(0.0,), calibrate=False)  # what the reward was before issue 13, block-scaled
BEFORE = RewardConfig(flip_grid=(0.0,), calibrate=False, l2_grid=(0.1, 1.0, 10.0, 100.0))


def world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of n images: a 'class' embedding (10 classes, separable) beside 17 appearance columns."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 10, n)
    learned = np.hstack([np.eye(10)[classes] * 6 + rng.standard_normal((n, 10)), rng.standard_normal((n, 20))])
    stats = rng.standard_normal((n, 17))
    return np.hstack([learned, stats]), classes, stats


TASTES = {
    "class": lambda c, s: np.isin(c, [1, 5, 7]),
    "attribute": lambda c, s: s[:, 2] > 0.5,  # e.g. "fills more of the frame than most"
}


def flipped(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A careless rater: exactly `share` of the thumbs contradict the taste."""
    out = y.copy()
    idx = np.random.default_rng(seed).choice(len(y), int(round(share * len(y))), replace=False)
    out[idx] = ~out[idx]
    return out


def liked_mass(p: np.ndarray, truth: np.ndarray) -> float:
    """The share of fine-tuning weight P(liked)² that lands on images the true taste likes."""
    w = p**2
    return float((w * truth).sum() / w.sum())


@pytest.mark.heavy
@pytest.mark.parametrize("taste", TASTES)
def test_an_appearance_taste_is_learnt_from_100_ratings_where_the_class_view_alone_misses_it(taste):
    test_x, test_c, test_s = world(3000, 99)
    truth = TASTES[taste](test_c, test_s)
    accs, before = [], []
    for seed in range(4):
        x, c, s = world(100, seed)
        y = np.where(TASTES[taste](c, s), 1.0, -1.0)
        reward = fit_reward(x, y, blocks=BLOCKS)
        accs.append(((reward.predict(test_x) > 0.5) == truth).mean())
        before.append(((fit_reward(x, y, BEFORE).predict(test_x) > 0.5) == truth).mean())
    assert np.mean(accs) >= 0.9, accs
    if taste == "attribute":
        assert np.mean(accs) > np.mean(before) + 0.05, (accs, before)
        # cross-validation found the block that carries it, or the one column of it (views.candidate_views)
        assert reward.blocks_used in (("stats",), ("stats:2",)), reward.blocks_used
        blank = test_x.copy()
        blank[:, :30] = 0  # a run skips embedding the training data when the learned block is unused
        assert np.array_equal(reward.predict(blank), reward.predict(test_x))


@pytest.mark.heavy
@pytest.mark.parametrize("taste", TASTES)
def test_15_percent_flipped_thumbs_hurt_the_robust_reward_less_than_the_plain_one(taste):
    test_x, test_c, test_s = world(3000, 99)
    truth = TASTES[taste](test_c, test_s)
    robust, plain, before, flips = [], [], [], []
    for seed in range(6):
        x, c, s = world(100, seed)
        y = np.where(flipped(TASTES[taste](c, s), 0.15, seed), 1.0, -1.0)
        reward = fit_reward(x, y, blocks=BLOCKS)
        robust.append(liked_mass(reward.predict(test_x), truth))
        plain.append(liked_mass(fit_reward(x, y, PLAIN, blocks=BLOCKS).predict(test_x), truth))
        before.append(liked_mass(fit_reward(x, y, BEFORE).predict(test_x), truth))
        flips.append(reward.flip)
    assert np.mean(robust) > np.mean(plain) + 0.03, (robust, plain)
    assert np.mean(robust) > np.mean(before) + 0.1, (robust, before)
    assert np.mean(flips) > 0.03  # it noticed the contradictions


def test_forward_corrected_logistic_lets_probabilities_leave_the_flip_band():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    y = flipped(x[:, 0] > 0, 0.15, 1).astype(float)
    w0, b0 = fit_logistic(x, y, 0.01)
    w1, b1 = fit_logistic(x, y, 0.01, flip=0.15)
    far = np.array([[3.0, 0.0], [-3.0, 0.0]])
    plain, corrected = predict_proba(far, w0, b0), predict_proba(far, w1, b1)
    assert corrected[0] > plain[0] and corrected[1] < plain[1]
    assert corrected[0] > 0.97 and corrected[1] < 0.03
    assert abs(w1[1]) < 0.3  # the irrelevant column stays near 0
    with pytest.raises(ValueError):
        fit_logistic(x, y, flip=0.5)


def test_platt_undoes_a_shrunk_score():
    rng = np.random.default_rng(0)
    z_true = rng.standard_normal(2000) * 3
    y = (rng.random(2000) < 1 / (1 + np.exp(-z_true))).astype(float)
    a, c = platt(z_true / 4, y)  # a score shrunk 4× (what ridge does with few ratings)
    assert a == pytest.approx(4, rel=0.15) and abs(c) < 0.2
    p_raw = 1 / (1 + np.exp(-z_true / 4))
    p_cal = 1 / (1 + np.exp(-(a * z_true / 4 + c)))
    assert expected_calibration_error(p_cal, y) < expected_calibration_error(p_raw, y) / 2


def test_heldout_figures_come_from_models_that_did_not_see_the_rating():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 40))
    y = np.where(rng.random(60) < 0.5, 1.0, -1.0)  # no taste at all: labels are coin flips
    reward = fit_reward(x, y, RewardConfig(l2_grid=(1e-3,), flip_grid=(0.0,), calibrate=False))
    train_acc = ((reward.predict(x) > 0.5) == (y > 0)).mean()
    assert train_acc > 0.9  # it can memorise 60 points in 40 dimensions...
    assert reward.heldout["heldout_accuracy"] < 0.7  # ...the held-out figure says so
    assert len(reward.fold_models) == 5
    assert not np.allclose(reward.predict_heldout(x), reward.predict(x))
    level, words = confidence(reward.heldout)
    assert level == "low" and "No taste found" in words  # 60 coin flips: a fine-tune will not start
    assert any("will not start" in w for w in warnings(reward.heldout, reward.flip))
    few = fit_reward(x[:40], y[:40], RewardConfig(l2_grid=(1e-3,), flip_grid=(0.0,), calibrate=False))
    level, words = confidence(few.heldout)  # 40: too few to refuse on, only "Not sure"
    assert level == "low" and "Not sure" in words and "not clearly better than always guessing" in words
    assert any("too few or too mixed" in w for w in warnings(few.heldout, few.flip))


def test_a_clear_consistent_taste_reads_as_sure_and_a_careless_one_is_warned_about():
    x, c, s = world(100, 0)
    clean = fit_reward(x, np.where(np.isin(c, [1, 5, 7]), 1.0, -1.0), blocks=BLOCKS)
    assert confidence(clean.heldout)[0] == "high"
    assert warnings(clean.heldout, clean.flip) == []
    report = holdout_report(np.full(50, 0.9), np.r_[np.ones(40), np.zeros(10)])
    assert warnings(report, flip=0.15)[-1].startswith("About 15% of these thumbs contradict")


def test_sure_means_sure_of_both_sides_not_only_of_the_commoner_thumb():
    """40 thumbs with 5 likes, all predicted right, say little about where the liked region ends."""
    y = np.r_[np.ones(5), np.zeros(35)]
    few_likes = holdout_report(np.where(y > 0.5, 0.9, 0.1), y)
    assert few_likes["heldout_accuracy"] == 1.0 and few_likes["heldout_liked_n"] == 5
    level, words = confidence(few_likes)
    assert level == "medium" and "only 5 were likes" in words
    y = np.r_[np.ones(30), np.zeros(70)]
    p = np.where(y > 0.5, 0.9, 0.1)
    p[:2] = 0.2  # 28 of 30 likes and every dislike recognised
    assert confidence(holdout_report(p, y))[0] == "high"
    p[:8] = 0.2  # 22 of 30 likes recognised: enough of them, but often missed
    level, words = confidence(holdout_report(p, y))
    assert level == "medium" and "only 22 of the 30 likes" in words
    older = {k: v for k, v in few_likes.items() if not k.startswith(("heldout_liked", "heldout_disliked"))}
    assert confidence(older)[0] == "high"  # a report kept before the per-side counts: the overall rule alone


@pytest.mark.heavy
def test_a_class_set_taste_is_learnt_better_with_the_kinds_block_from_40_ratings():
    """Ten class-probability columns beside a noisy 128-column embedding: 'trousers or sandals or sneakers' is one
    linear rule there, and cross-validation picks the block that carries it."""

    def kinds_world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        classes = rng.integers(0, 10, n)
        learned = np.eye(10)[classes] @ rng.standard_normal((10, 128)) * 0.3 + rng.standard_normal((n, 128))
        probs = np.eye(10)[classes] * 0.9 + 0.01
        return np.hstack([learned, probs, rng.standard_normal((n, 17))]), classes

    blocks = [("learned", 128), ("kinds", 10), ("stats", 17)]
    test_x, test_c = kinds_world(2000, 99)
    truth = np.isin(test_c, [1, 5, 7])
    with_kinds, without = [], []
    for seed in range(3):
        x, c = kinds_world(40, seed)
        y = np.where(np.isin(c, [1, 5, 7]), 1.0, -1.0)
        reward = fit_reward(x, y, blocks=blocks)
        with_kinds.append(((reward.predict(test_x) > 0.5) == truth).mean())
        assert "kinds" in reward.blocks_used
        plain_cols = np.r_[0:128, 138:155]
        plain = fit_reward(x[:, plain_cols], y, blocks=[("learned", 128), ("stats", 17)])
        without.append(((plain.predict(test_x[:, plain_cols]) > 0.5) == truth).mean())
    assert np.mean(with_kinds) >= 0.95 and np.mean(with_kinds) > np.mean(without) + 0.05, (with_kinds, without)
