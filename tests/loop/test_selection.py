"""The 'images to rate next' rule: uncertain images first, and every kind of image covered."""

from __future__ import annotations

import numpy as np

from aigc.feedback.selection import select_to_rate


def groups(n_per: int, centres: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + 0.3 * rng.standard_normal((n_per, centres.shape[1])) for c in centres])
    return x, np.repeat(np.arange(len(centres)), n_per)


CENTRES = np.array([[0, 0], [8, 0], [0, 8], [8, 8], [4, 4]], float)


def test_without_a_reward_model_the_first_picks_cover_every_kind_even_a_rare_one():
    x, kind = groups(40, CENTRES)
    x, kind = np.concatenate([x[:160], x[160:163]]), np.concatenate([kind[:160], kind[160:163]])  # kind 4: 3 of 163
    picks = select_to_rate(x, np.zeros((0, 2)), k=5)
    assert sorted(kind[picks]) == [0, 1, 2, 3, 4]
    random_hits = np.mean([4 in np.random.default_rng(s).choice(kind, 5, replace=False) for s in range(200)])
    assert random_hits < 0.2  # random samples would miss the rare kind most of the time


def test_coverage_prefers_kinds_no_rating_has_seen():
    x, kind = groups(30, CENTRES[:4])
    rated = np.concatenate([x[kind == 0][:10], x[kind == 1][:10]])  # everything rated so far: kinds 0 and 1
    picks = select_to_rate(x, rated, k=2)
    assert set(kind[picks]) == {2, 3}


def test_with_a_reward_model_uncertain_images_come_first_but_not_all_from_one_spot():
    x, kind = groups(30, CENTRES[:4])
    rated = x[(kind <= 2) & (np.arange(len(x)) % 3 == 0)]  # kinds 0, 1, 2 seen; kind 3 never
    p = np.where(kind == 2, 0.5, np.where(kind == 0, 0.95, 0.03))  # unsure only about kind 2
    picks = select_to_rate(x, rated, k=3, probabilities=p, uncertainty_weight=0.8)
    assert kind[picks[0]] == 2
    assert len(set(picks.tolist())) == 3  # never the same image twice
    only_uncertainty = select_to_rate(x, rated, k=6, probabilities=p, uncertainty_weight=1.0)
    assert (kind[only_uncertainty] == 2).all()
    spread = select_to_rate(x, rated, k=6, probabilities=p, uncertainty_weight=0.5)
    assert set(kind[spread].tolist()) == {2, 3}  # coverage also asks about the kind nobody has rated


def test_k_larger_than_the_pool_returns_the_whole_pool_once():
    x, _ = groups(2, CENTRES[:2])
    assert sorted(select_to_rate(x, np.zeros((0, 2)), k=10).tolist()) == [0, 1, 2, 3]


def test_a_page_is_chosen_from_a_pool_many_times_its_size_yet_bounded():
    from aigc.feedback.selection import MAX_POOL, POOL_PER_PICK, pool_size
    from aigc.service.limits import Limits

    assert pool_size(10) == POOL_PER_PICK * 10 > 10  # room to find the least sure and least covered
    most = Limits().max_images  # the most images one request may ask for
    assert most <= pool_size(most) <= MAX_POOL  # never fewer than the page, never without bound
