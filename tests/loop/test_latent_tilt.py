"""The latent tilt: a child's prior steered towards what the reward model expects to be liked."""

from dataclasses import replace

import numpy as np
import pytest

from aigc import load_model
from aigc.feedback.latent_prior import (
    MIN_ESS_FRACTION,
    SURE_ENOUGH,
    TEMPERATURES,
    TiltConfig,
    choose_temperature,
    tilted_prior,
)
from aigc.feedback.reward import tilt
from aigc.models.prior import MixturePrior

from .conftest import band_class, rate_by_band


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_tilted_prior_draws_more_of_the_liked_kind(models_dir, kind):
    model = load_model(f"syn-{kind}", models_dir=models_dir)
    parent_classes = band_class(model.sample(600, 5))
    liked = int(np.bincount(parent_classes, minlength=3).argmin())  # the rarest band: most room to move

    def p_liked(images: np.ndarray) -> np.ndarray:
        return np.where(band_class(images) == liked, 0.95, 0.05)

    record, summary = tilted_prior(model, p_liked, TiltConfig(draws=1500, components=256, kernel=0.1))
    model.prior = MixturePrior.from_record(record)
    after = float((band_class(model.sample(600, 5)) == liked).mean())
    before = float((parent_classes == liked).mean())
    assert after > before + 0.3, (before, after)
    assert summary["tilt_mean_p_drawn"] > summary["tilt_mean_p_before"]
    assert sum(record["weights"]) == pytest.approx(1, abs=1e-3) and record["scale"] > 0


def test_a_tilted_prior_gives_the_same_pictures_for_the_same_seed(models_dir):
    model = load_model("syn-gan", models_dir=models_dir)
    record, _ = tilted_prior(model, lambda images: images.mean(axis=(1, 2, 3)) / 255, TiltConfig(draws=300))
    model.prior = MixturePrior.from_record(record)
    assert np.array_equal(model.sample(8, 3), model.sample(8, 3))
    assert not np.array_equal(model.sample(8, 3), model.sample(8, 4))


def test_tilt_kernel_out_of_range_is_refused(models_dir):
    model = load_model("syn-gan", models_dir=models_dir)
    with pytest.raises(ValueError, match="kernel scale"):
        tilted_prior(model, lambda images: np.ones(len(images)), TiltConfig(draws=10, kernel=2.0))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"tilt_kernel": 1.5}, "kernel scale"),
        ({"tilt_draws": 10**6}, "tilt's draws"),
        ({"tilt_components": 8}, "tilt's centres"),
        ({"child_keep": 0.1}, "keep share"),
        ({"tilt_components": 10**6}, "tilt's centres"),
        ({"tilt_temperature": 0.01}, "tilt's temperature"),
        ({"tilt_temperature": 50.0}, "tilt's temperature"),
        ({"realism_keep": 0.2}, "realism share"),
        ({"realism_keep": 1.5}, "realism share"),
        ({"train_latents": "uniform"}, "train_latents"),
        ({"train_latents": "tilt", "tilt": False}, "with the tilt on"),
    ],
)
def test_a_run_with_an_out_of_range_tilt_is_refused_before_training(studio, models_dir, bad, message):
    from aigc.feedback.finetune import FinetuneConfig, finetune

    with pytest.raises(ValueError, match=message):
        finetune("syn-gan", studio.store, FinetuneConfig(steps=5, progress=False, **bad), models_dir=models_dir)
    assert studio.store.list_runs() == []


def test_a_sharper_temperature_keeps_more_of_a_taste_whose_probabilities_stay_off_zero(models_dir):
    """A careless rater's reward model leaves a disliked kind at P ≈ 0.15, not 0: β = 1 keeps that
    share of it; β = 0.5 (P²) squares the odds and keeps the liked kind clearly more often."""
    model = load_model("syn-gan", models_dir=models_dir)
    liked = int(np.bincount(band_class(model.sample(600, 5)), minlength=3).argmin())

    def p_liked(images: np.ndarray) -> np.ndarray:
        return np.where(band_class(images) == liked, 0.85, 0.15)

    drawn = {
        beta: tilted_prior(model, p_liked, TiltConfig(draws=1500, components=512, temperature=beta))[1][
            "tilt_mean_p_drawn"
        ]
        for beta in (1.0, 0.5)
    }
    assert drawn[0.5] > drawn[1.0] + 0.05, drawn
    # the run's default chooses β itself (below): here it goes past 0.5 until the kept draws are sure enough
    chosen = tilted_prior(model, p_liked, TiltConfig(draws=1500, components=512))[1]
    assert chosen["tilt_temperature"] < 0.5 and chosen["tilt_mean_p_drawn"] > drawn[0.5], (chosen, drawn)


def test_the_adaptive_temperature_keeps_p_squared_when_sure_and_sharpens_an_unsure_reward_within_the_ess_floor():
    rng = np.random.default_rng(0)
    liked = rng.random(8000) < 0.3
    sure = np.where(liked, 0.97, 0.02)  # a consistent rater's reward model: P² already keeps ~0.97 liked
    assert choose_temperature(sure) == TEMPERATURES[0]
    unsure = np.where(liked, 0.7, 0.25)  # a careless rater's: P² keeps only ~0.6 liked
    beta = choose_temperature(unsure)
    assert beta < TEMPERATURES[0]
    w = tilt(unsure, beta)
    assert (w * unsure).sum() / w.sum() >= SURE_ENOUGH - 0.01 or beta == TEMPERATURES[-1]
    # a handful of draws far above the rest: sharpening would keep only them, so β stops before the floor
    few = np.where(np.arange(8000) < 40, 0.9, 0.3)
    beta_few = choose_temperature(few)
    w = tilt(few, beta_few)
    assert w.sum() ** 2 / (w**2).sum() / len(w) >= MIN_ESS_FRACTION
    assert beta_few > TEMPERATURES[-1]


def test_draws_that_look_least_real_never_become_centres(models_dir):
    """With realism_keep 0.5, half the draws (the least real-looking by the score given) are out, whatever the
    reward says: here the score is the picture's brightness, and every centre is among the brighter half."""
    model = load_model("syn-gan", models_dir=models_dir)
    cfg = TiltConfig(draws=1000, components=256, kernel=0.0, realism_keep=0.5)
    brightness = lambda images: images.reshape(len(images), -1).mean(1)  # noqa: E731
    record, summary = tilted_prior(model, lambda images: np.full(len(images), 0.5), cfg, realism=brightness)
    draws = model.generate(cfg.draws, cfg.seed + 7919)  # the tilt's own draws, seeded
    threshold = np.median(brightness(draws.images))
    centres = np.asarray(record["means"])
    kept = [i for i, z in enumerate(draws.latents) if np.any(np.all(np.isclose(centres, z, atol=1e-4), axis=1))]
    assert len(kept) == len(centres) > 50
    assert all(brightness(draws.images[kept]) >= threshold)
    assert summary["tilt_realism_keep"] == pytest.approx(0.5, abs=0.01)
    unfiltered, _ = tilted_prior(model, lambda images: np.full(len(images), 0.5), replace(cfg, realism_keep=1.0))
    assert len(unfiltered["means"]) > len(centres)  # without the score every draw may be a centre


def test_a_vae_is_never_trained_on_a_tilted_prior(studio, models_dir):
    from aigc.feedback.finetune import FinetuneConfig, finetune

    with pytest.raises(ValueError, match="a GAN"):
        finetune("syn-vae", studio.store, FinetuneConfig(steps=5, train_latents="tilt"), models_dir=models_dir)
    assert studio.store.list_runs() == []


def test_a_gan_child_is_fine_tuned_on_its_parents_tilt_and_samples_within_it(studio, models_dir):
    from aigc.feedback.finetune import FinetuneConfig, finetune

    parent = load_model("syn-gan", models_dir=models_dir)
    liked = int(np.bincount(band_class(parent.sample(600, 5)), minlength=3).argmin())
    rate_by_band(studio, "syn-gan", liked, n=60)
    rate_by_band(studio, "syn-gan", liked, n=40, seed=2)
    seen: list[tuple[str, float]] = []
    result = finetune(
        "syn-gan",
        studio.store,
        FinetuneConfig(steps=10, progress=False, eval_n=200),
        on_progress=lambda stage, frac, info: seen.append((stage, frac)),
        models_dir=models_dir,
    )
    fractions = [frac for _, frac in seen]
    assert fractions == sorted(fractions)  # the page's bar never runs backwards
    stages = [stage for stage, _ in seen]  # the parent's tilt, then the child's: two names, so a bar says which
    assert stages.count("parent_tilt") == 1 == stages.count("tilt")
    assert stages.index("parent_tilt") < stages.index("training") < stages.index("tilt")
    child = load_model(result.child, models_dir=models_dir)
    metrics = child.record.extra["metrics"]
    assert child.record.extra["finetune"]["train_latents"] == "tilt"  # the GAN default
    assert metrics["train_tilt_mean_p_drawn"] > metrics["train_tilt_mean_p_before"]
    before = float((band_class(parent.sample(400, 9)) == liked).mean())
    after = float((band_class(child.sample(400, 9)) == liked).mean())
    assert after > before + 0.2, (before, after)
