import numpy as np
import pytest

from aigc.feedback.reward import NotEnoughRatings, RewardConfig, effective_sample_size, fit_reward, reward_weights


def toy(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 10, n)
    feats = np.eye(10)[classes] * 3 + rng.standard_normal((n, 10))
    return feats, np.isin(classes, [1, 5, 7])


def test_weights_move_mass_to_liked_and_keep_ess_floor():
    feats, liked = toy()
    idx = np.random.default_rng(1).choice(len(feats), 100, replace=False)
    reward = fit_reward(feats[idx], np.where(liked[idx], 1.0, -1.0))
    rest = np.setdiff1d(np.arange(len(feats)), idx)
    truth = ((reward.predict(feats[rest]) > 0.5) == liked[rest]).mean()  # on 1,900 pictures it never saw: 0.795
    assert truth > 0.75
    assert abs(reward.cv_accuracy - truth) < 0.03  # the nested grade says as much (its choices' own folds: 0.90)
    assert reward.heldout["selection_accuracy"] > truth + 0.05
    for floor in (0.2, 0.4, 0.6):
        w = reward_weights(reward.predict(feats), RewardConfig(ess_floor=floor))
        assert w.ess_fraction >= floor - 1e-6
        assert abs(w.weights.mean() - 1) < 1e-6
        liked_mass = w.weights[liked].sum() / w.weights.sum()
        assert liked_mass > liked.mean() + 0.2, (floor, liked_mass)
    # a lower floor allows a sharper distribution
    sharp = reward_weights(reward.predict(feats), RewardConfig(ess_floor=0.2)).weights
    soft = reward_weights(reward.predict(feats), RewardConfig(ess_floor=0.6)).weights
    assert sharp[liked].sum() / sharp.sum() > soft[liked].sum() / soft.sum()


def test_weights_are_clipped_and_finite_even_for_extreme_rewards():
    rewards = np.r_[np.ones(3), np.zeros(997)]
    w = reward_weights(rewards, RewardConfig(ess_floor=0.001, max_weight=10))
    assert np.isfinite(w.weights).all()
    assert w.weights.max() <= 10 + 1e-6 * 10 or w.clipped > 0
    assert effective_sample_size(w.weights) == pytest.approx(w.ess)


def test_fixed_beta_is_respected():
    w = reward_weights(np.linspace(0.1, 1, 100), RewardConfig(temperature=0.5))
    assert w.temperature == 0.5
    assert w.weights[-1] / w.weights[0] == pytest.approx((1 / 0.1) ** 2, rel=1e-6)  # P(liked)^(1/β)


def test_equally_liked_groups_keep_equal_shares_when_the_reward_is_surer_of_one():
    # Three liked groups the reward model is 97%, 90% and 80% sure of, seven disliked ones at 3%:
    # the weights must move mass to the liked groups without ranking them against each other.
    rng = np.random.default_rng(0)
    group = rng.integers(0, 10, 20000)
    p = np.array([0.97, 0.90, 0.80, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03])[group] + rng.normal(0, 0.01, 20000)
    w = reward_weights(np.clip(p, 0, 1), RewardConfig(ess_floor=0.2))
    shares = np.array([w.weights[group == g].sum() for g in range(10)]) / w.weights.sum()
    assert shares[:3].sum() > 0.95  # mass moved to what is liked
    assert shares[:3].max() / shares[:3].min() < 1.6, shares[:3]  # ...but not onto the group the reward is surest of
    assert w.ess_fraction >= 0.2


def test_too_few_ratings_says_how_many_more():
    feats = np.random.default_rng(0).standard_normal((12, 4))
    with pytest.raises(NotEnoughRatings, match=r"have 12 .*need 8 more rating"):
        fit_reward(feats, np.r_[np.ones(6), -np.ones(6)])
    with pytest.raises(NotEnoughRatings, match="more dislike"):
        fit_reward(np.random.default_rng(0).standard_normal((30, 4)), np.ones(30))


def test_star_scores_are_soft_labels():
    feats, liked = toy(400)
    scores = np.where(liked, 0.5, -0.5)  # 4 and 2 stars
    reward = fit_reward(feats, scores)
    p = reward.predict(feats)
    assert p[liked].mean() > p[~liked].mean()
