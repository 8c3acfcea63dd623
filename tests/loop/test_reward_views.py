"""Steering by every feature view the ratings cannot rule out (RewardConfig.view_margin).

The situation it is for: on the rated pictures two views explain the thumbs equally well, and they part
ways only on pictures nobody rated, which is where a fine-tune goes looking. The steering reward must
then be sure only where both views are.
"""

from __future__ import annotations

import numpy as np

from aigc.feedback.reward import RewardConfig, fit_reward

BLOCKS = [("kinds", 3), ("stats", 3)]
# The twin views carry the taste in one column each, which a single-column view (views.py) would read alone:
# these tests are about block views and their vetoes, so they leave single columns out


def twin_views(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n rated pictures whose like is written in both blocks alike (column 0 of each carries it, plus noise)."""
    rng = np.random.default_rng(seed)
    liked = rng.random(n) < 0.4
    sign = np.where(liked, 1.0, -1.0)
    x = rng.normal(0, 0.3, (n, 6))
    x[:, 0] += 2 * sign
    x[:, 3] += 2 * sign
    return x, sign


def test_a_picture_only_one_view_likes_is_not_where_the_steering_goes():
    x, scores = twin_views(100, 0)
    plain = fit_reward(x, scores, RewardConfig(nested=False, view_margin=0.0, single_columns=False), blocks=BLOCKS)
    wary = fit_reward(x, scores, RewardConfig(nested=False, single_columns=False), blocks=BLOCKS)  # the default margin
    assert plain.alternatives == [] and wary.alternatives  # the other views tie with the chosen one here
    assert wary.blocks_used == plain.blocks_used and wary.fold_models  # same chosen view, same grader
    both = np.array([[2.0, 0, 0, 2.0, 0, 0]])
    kinds_only = np.array([[2.0, 0, 0, -2.0, 0, 0]])
    stats_only = np.array([[-2.0, 0, 0, 2.0, 0, 0]])
    assert wary.predict(both)[0] > 0.9  # what every view likes stays liked
    for one_sided in (kinds_only, stats_only):
        assert wary.predict(one_sided)[0] < 0.1
        assert wary.predict(one_sided)[0] <= plain.predict(one_sided)[0]
    # the chosen view's own probabilities never rise: the least of several is at most the chosen one's
    rng = np.random.default_rng(1)
    unseen = rng.normal(0, 2, (500, 6))
    assert (wary.predict(unseen) <= plain.predict(unseen) + 1e-12).all()
    assert wary.blocks_read == {"kinds", "stats"}
    assert wary.summary()["steering_views"]


def test_a_view_the_ratings_rule_out_is_not_an_alternative():
    x, scores = twin_views(100, 2)
    x[:, 3] = np.random.default_rng(3).normal(0, 1, len(x))  # the stats block no longer knows the taste
    reward = fit_reward(x, scores, RewardConfig(nested=False, view_margin=0.05, single_columns=False), blocks=BLOCKS)
    assert "stats" not in {"+".join(use) for use, *_ in reward.alternatives}
    assert reward.predict(np.array([[2.0, 0, 0, -2.0, 0, 0]]))[0] > 0.9  # a noise view has no veto


def test_softer_combinations_of_the_views_sit_between_the_least_and_the_chosen_one():
    """view_combine "geomean" or "mean" (measured, not the default): a picture one view doubts is pulled down
    less than by the least, and a picture every view likes stays liked whichever way they combine."""
    x, scores = twin_views(100, 0)
    configs = {
        how: RewardConfig(nested=False, view_combine=how, single_columns=False) for how in ("min", "geomean", "mean")
    }
    fits = {how: fit_reward(x, scores, cfg, blocks=BLOCKS) for how, cfg in configs.items()}
    rng = np.random.default_rng(4)
    unseen = rng.normal(0, 2, (500, 6))
    least, geo, mean = (fits[how].predict(unseen) for how in ("min", "geomean", "mean"))
    assert (least <= geo + 1e-12).all() and (geo <= mean + 1e-12).all()
    assert (geo - least).max() > 0.05  # where the views part ways, the combinations differ
    both = np.array([[2.0, 0, 0, 2.0, 0, 0]])
    assert min(fit.predict(both)[0] for fit in fits.values()) > 0.9
    assert fits["geomean"].summary()["steering_views"] == fits["min"].summary()["steering_views"]


def test_real_images_are_weighed_by_the_chosen_view_alone():
    """`predict_chosen` (FinetuneConfig.weights_by "chosen"): the chosen view's own calibrated fit, the same
    whether or not alternatives were fitted beside it, and not pulled down where another view doubts."""
    x, scores = twin_views(100, 0)
    plain = fit_reward(x, scores, RewardConfig(nested=False, view_margin=0.0, single_columns=False), blocks=BLOCKS)
    wary = fit_reward(x, scores, RewardConfig(nested=False, single_columns=False), blocks=BLOCKS)
    unseen = np.random.default_rng(5).normal(0, 2, (300, 6))
    np.testing.assert_allclose(wary.predict_chosen(unseen), plain.predict(unseen))
    assert (wary.predict(unseen) <= wary.predict_chosen(unseen) + 1e-12).all()
    assert wary.blocks_used == ("kinds", "stats")  # both blocks: it weighs the two halves of the evidence
    for one_sided in ([[2.0, 0, 0, -2.0, 0, 0]], [[-2.0, 0, 0, 2.0, 0, 0]]):  # a real image only one block likes
        assert wary.predict_chosen(np.array(one_sided))[0] > 0.3 > 0.01 > wary.predict(np.array(one_sided))[0]
