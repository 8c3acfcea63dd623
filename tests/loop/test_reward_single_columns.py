"""A view may read one pixel statistic alone (`aigc/feedback/views.py`): a taste about one nameable property
is then read by that property, sure and steep, instead of by all 18 statistics with a shallow slope."""

from __future__ import annotations

import numpy as np

from aigc.feedback.appearance import STAT_NAMES
from aigc.feedback.reward import RewardConfig, fit_reward
from aigc.feedback.views import candidate_views, column_names, column_scale, reads_single_column

BLOCKS = [("kinds", 10), ("stats", len(STAT_NAMES)), ("layout", 12)]
BRIGHT = STAT_NAMES.index("ink_brightness")


def pictures(n: int, seed: int) -> np.ndarray:
    """Features of n pictures: one-hot-ish class probabilities, 18 independent statistics, a layout."""
    rng = np.random.default_rng(seed)
    kinds = np.eye(10)[rng.integers(0, 10, n)] * 0.8 + rng.random((n, 10)) * 0.2
    return np.hstack([kinds, rng.standard_normal((n, len(STAT_NAMES))), rng.standard_normal((n, 12))])


def careless_thumbs(x: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(thumbs, truth): the rater likes items brighter than most (one statistic over a threshold), and a fixed
    `share` of the thumbs contradict that taste."""
    truth = x[:, 10 + BRIGHT] > 0.5
    thumbs = truth.copy()
    flip = np.random.default_rng(seed).choice(len(x), int(round(share * len(x))), replace=False)
    thumbs[flip] = ~thumbs[flip]
    return np.where(thumbs, 1.0, -1.0), truth


def test_views_name_single_statistics_and_scale_only_their_column():
    views = candidate_views(BLOCKS)
    assert ("stats:ink_brightness",) in views and ("kinds", "stats", "layout") in views
    assert ("kinds", "stats:ink_roughness") in views  # a mixture: kinds AND one property
    assert sum(reads_single_column(v) for v in views) == 2 * len(STAT_NAMES)
    assert not any(reads_single_column(v) for v in candidate_views(BLOCKS, single_columns=False))
    alone = column_scale(BLOCKS, ("stats:ink_brightness",))
    assert alone[10 + BRIGHT] == 1.0 and np.count_nonzero(alone) == 1
    whole = column_scale(BLOCKS, ("stats",))  # a block view keeps its share: 1/√18 on each of its columns
    assert np.allclose(whole[10:28], 1 / np.sqrt(len(STAT_NAMES))) and not whole[:10].any() and not whole[28:].any()
    assert column_names("stats", 3) == ("0", "1", "2")  # a block of another width: its columns by number


def test_a_careless_rater_of_one_property_is_read_by_that_property_alone_and_more_surely():
    test_x = pictures(2000, 99)
    _, truth = careless_thumbs(test_x, 0.0, 0)
    single, blocks_only = [], []
    for seed in range(3):
        x = pictures(100, seed)
        thumbs, _ = careless_thumbs(x, 0.15, seed)
        reward = fit_reward(x, thumbs, RewardConfig(nested=False), blocks=BLOCKS, seed=seed)  # steering, not its grade
        before = fit_reward(x, thumbs, RewardConfig(nested=False, single_columns=False), blocks=BLOCKS, seed=seed)
        single.append(reward)
        blocks_only.append(before)
        assert not any(reads_single_column(use) for use, *_ in reward.alternatives)  # never a veto
    assert sum(r.blocks_used == ("stats:ink_brightness",) for r in single) >= 2, [r.blocks_used for r in single]
    # surer where the rater truly likes: the probabilities a tilt sharpens are less compressed
    liked_p = [r.predict(test_x)[truth].mean() for r in single]
    liked_p_before = [r.predict(test_x)[truth].mean() for r in blocks_only]
    assert np.mean(liked_p) > np.mean(liked_p_before) + 0.05, (liked_p, liked_p_before)
    accuracy = [((r.predict(test_x) > 0.5) == truth).mean() for r in single]
    assert np.mean(accuracy) > 0.9, accuracy
