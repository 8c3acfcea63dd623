"""'Images to rate next' through the studio: recorded, rateable, and covering what random samples miss."""

from __future__ import annotations

import numpy as np

from .conftest import band_class, rate_by_band


def test_images_to_rate_next_are_recorded_and_spread_over_kinds_before_any_rating(studio):
    batch = studio.sample_to_rate("syn-vae", 8, seed=3, rater="r")
    assert len(batch.sample_ids) == len(batch.images) == 8
    studio.rate(batch.sample_ids[0], 1.0, "r")  # rateable like any sample
    model, latent = studio.sample_info(batch.sample_ids[1])
    assert model == "syn-vae" and np.allclose(latent, batch.latents[1])
    # coverage: over several seeds, at least as many kinds as 8 random samples (one seed's 8 picks were a
    # coin flip between 2 and 3 bands when the features' last bits moved with the machine's load)
    chosen = sum(len(set(band_class(studio.sample_to_rate("syn-vae", 8, s, rater="r").images))) for s in range(4, 10))
    random = sum(len(set(band_class(studio.sample("syn-vae", 8, s, rater="r").images))) for s in range(4, 10))
    assert chosen >= random, (chosen, random)


def test_once_a_reward_model_exists_the_picks_come_from_the_seeds_pool_and_follow_the_rule(studio):
    """The rule itself (uncertain first, but spread out) is tested on controlled features in test_selection.py;
    here: the studio draws the pool from the seed, applies the rule with the rater's reward model, and the
    picks are distinct images of that pool. (Comparing mean uncertainty with a random draw was a race with
    the coverage term: with a saturated reward model every image scores |p - 0.5| ≈ 0.5.)"""
    rate_by_band(studio, "syn-vae", liked_band=2, n=40, rater="r")
    assessed = studio.runs.assessment("syn-vae", "r")
    assert assessed.reward is not None
    batch = studio.sample_to_rate("syn-vae", 8, seed=5, rater="r")
    pool = studio.sample("syn-vae", 32, 5, rater="r")  # the 4 × 8 samples the picks were chosen from
    rows = [int(np.flatnonzero(np.all(np.isclose(pool.latents, z), axis=1))[0]) for z in batch.latents]
    assert len(set(rows)) == 8  # eight different images of the seed's pool
    assert all(np.array_equal(pool.images[r], img) for r, img in zip(rows, batch.images))
