"""Blind A/B picks as Bradley–Terry evidence for the reward model: what they add, and which picks count."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.feedback.logistic import fit_logistic
from aigc.feedback.ratings import usable_picks
from aigc.feedback.reward import RewardConfig, fit_reward
from feedback_db import FeedbackStore

D = 8


def graded_world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n feature vectors and a graded taste t = x·u (u a fixed unit direction): the more, the better liked."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D))
    u = np.ones(D) / np.sqrt(D)
    return x, x @ u


def picks_of(x: np.ndarray, t: np.ndarray, n: int, seed: int, flip: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n random pairs, the better-liked one picked (a `flip` share of picks the other way round)."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(x), n), rng.integers(0, len(x), n)
    a_wins = (t[a] > t[b]) ^ (rng.random(n) < flip)
    return np.where(a_wins[:, None], x[a], x[b]), np.where(a_wins[:, None], x[b], x[a])


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def score(reward, x: np.ndarray) -> np.ndarray:
    """The reward's logit: probabilities of sure likes all round to 1.0, which would tie their ranks."""
    return (x - reward.mean) / reward.scale @ reward.coef + reward.bias


def test_picks_alone_point_the_weights_along_the_taste():
    x, t = graded_world(400, 0)
    picked, other = picks_of(x, t, 300, 1)
    # two thumbs only (one like, one dislike): the ratings alone cannot say which way the taste runs
    w, _ = fit_logistic(x[:2], np.array([1.0, 0.0]), l2=1.0, pairs=picked - other)
    u = np.ones(D) / np.sqrt(D)
    assert w @ u / np.linalg.norm(w) > 0.95
    w_plain, _ = fit_logistic(x[:2], np.array([1.0, 0.0]), l2=1.0)
    assert w_plain @ u / np.linalg.norm(w_plain) < 0.9


@pytest.mark.parametrize("flip", [0.0, 0.15])
def test_picks_order_the_liked_images_where_thumbs_cannot(flip):
    """Thumbs split the taste at its median; picks also say which of two liked images is liked more."""
    test_x, test_t = graded_world(2000, 99)
    with_picks, without = [], []
    for seed in range(3):
        x, t = graded_world(30, seed)
        thumbs = np.where(t > 0, 1.0, -1.0)
        picked, other = picks_of(*graded_world(200, 100 + seed), 150, seed, flip)
        cfg = RewardConfig(nested=False, flip_grid=(0.0, 0.1, 0.2))
        reward = fit_reward(x, thumbs, cfg, seed=seed, pairs=(picked, other))
        assert reward.n_picks == 150 and reward.summary()["n_picks"] == 150
        liked = test_t > 0
        with_picks.append(rank_correlation(score(reward, test_x)[liked], test_t[liked]))
        without.append(rank_correlation(score(fit_reward(x, thumbs, cfg, seed=seed), test_x)[liked], test_t[liked]))
    assert np.mean(with_picks) > np.mean(without) + 0.05, (with_picks, without)
    assert np.mean(with_picks) > 0.8


def test_mismatched_pairs_are_refused():
    x, t = graded_world(30, 0)
    thumbs = np.where(t > 0, 1.0, -1.0)
    with pytest.raises(ValueError, match="A/B pairs"):
        fit_reward(x, thumbs, pairs=(x[:5], x[:4]))
    with pytest.raises(ValueError, match="A/B pairs"):
        fit_reward(x, thumbs, pairs=(x[:5, :3], x[:5, :3]))
    assert fit_reward(x, thumbs, pairs=(x[:0], x[:0])).n_picks == 0  # no picks: the ratings alone


def test_usable_picks_follow_the_lineage_the_rater_and_leave_ties_out(tmp_path):
    with FeedbackStore(f"sqlite:///{tmp_path}/f.sqlite") as store:
        sha = lambda i: f"{i:064x}"  # noqa: E731
        parent = store.register_version("m", "vae", "m.safetensors", sha(1), latent_dim=4)
        child = store.register_version("m-ft1", "vae", "c.safetensors", sha(2), parent_id=parent.id, latent_dim=4)
        stranger = store.register_version("other", "vae", "o.safetensors", sha(3), latent_dim=4)
        p_ids = store.record_samples(parent.id, np.zeros((4, 4)), seed=0)
        c_ids = store.record_samples(child.id, np.ones((4, 4)), seed=0)
        s_ids = store.record_samples(stranger.id, np.ones((2, 4)), seed=0)
        store.record_comparison(p_ids[0], c_ids[0], c_ids[0], "ann")  # child picked
        store.record_comparison(c_ids[1], p_ids[1], p_ids[1], "ann")  # parent picked
        store.record_comparison(p_ids[2], c_ids[2], None, "ann")  # a tie: no direction
        store.record_comparison(p_ids[3], c_ids[3], c_ids[3], "bob")  # another rater
        store.record_comparison(s_ids[0], c_ids[0], s_ids[0], "ann")  # a sample outside the lineage

        picks = usable_picks(store, child.id, latent_dim=4, rater="ann")
        assert [(p.picked.id, p.other.id) for p in picks] == [(c_ids[0], p_ids[0]), (p_ids[1], c_ids[1])]
        assert len(usable_picks(store, child.id, latent_dim=4)) == 3  # everyone's
        assert usable_picks(store, child.id, latent_dim=8) == []  # another latent size
        assert usable_picks(store, parent.id) == []  # the parent's lineage does not hold the child

        store.retire_version("m", sha(1))  # the parent's file was replaced: its pictures cannot be made again
        assert usable_picks(store, child.id) == []
