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
    chosen = len(set(band_class(batch.images).tolist()))
    random = len(set(band_class(studio.sample("syn-vae", 8, 3, rater="r").images).tolist()))
    assert chosen >= random  # coverage: at least as many kinds as 8 random samples


def test_once_a_reward_model_exists_the_picks_lean_to_what_it_is_unsure_of(studio):
    rate_by_band(studio, "syn-vae", liked_band=2, n=40, rater="r")
    assessed = studio.runs.assessment("syn-vae", "r")
    assert assessed.reward is not None
    batch = studio.sample_to_rate("syn-vae", 8, seed=5, rater="r")
    from aigc.feedback import features as phi

    rf = phi.reward_features(studio.model("syn-vae"))
    p_chosen = assessed.reward.predict(rf.compute(batch.images))
    p_random = assessed.reward.predict(rf.compute(studio.sample("syn-vae", 32, 5, rater="r").images))
    assert np.abs(p_chosen - 0.5).mean() <= np.abs(p_random - 0.5).mean()  # less sure than a random draw
