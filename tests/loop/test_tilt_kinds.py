"""The sharpened tilt between kinds: pushing away from what is disliked must not also pick one liked kind."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from aigc import load_model
from aigc.feedback.kinds import row_kinds
from aigc.feedback.latent_prior import TEMPERATURES, TiltConfig, balance_kinds, tilt_from_scores, tilted_prior
from aigc.models.prior import MixturePrior

from .conftest import band_class


def test_balancing_evens_out_the_kinds_that_hold_mass_and_leaves_a_massless_one_near_zero():
    kinds = np.repeat([0, 1, 2], 100)
    w = np.concatenate([np.full(100, 0.8), np.full(100, 0.2), np.full(100, 1e-6)])
    w = w / w.sum()
    balanced = balance_kinds(w, kinds, 0.5)
    mass = np.bincount(kinds, weights=balanced)
    assert balanced.sum() == pytest.approx(1.0)
    assert mass[0] / mass[1] == pytest.approx(2.0, rel=1e-6)  # 4:1 → √4:√1
    assert mass[2] < 0.01  # a disliked kind stays out
    within = balanced[:100] / balanced[:100].sum()
    assert np.allclose(within, 0.01)  # each draw keeps its place within its kind
    assert np.allclose(balance_kinds(w, kinds, 1.0), w)  # γ = 1: unchanged


def test_the_kind_balance_acts_only_when_the_tilt_sharpened():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 4))
    kinds = rng.integers(0, 3, 4000)
    unsure = np.where(kinds == 0, 0.75, np.where(kinds == 1, 0.65, 0.2))  # a careless rater's reward model
    cfg = TiltConfig(draws=4000, components=2048, kind_balance=0.5)
    _, plain = tilt_from_scores(z, unsure, TiltConfig(draws=4000, components=2048))
    record, balanced = tilt_from_scores(z, unsure, cfg, kinds=kinds)
    assert plain["tilt_temperature"] < TEMPERATURES[0] and balanced["tilt_kind_balance"] == 0.5
    assert balanced["tilt_centres"] > plain["tilt_centres"]  # kind 1 is no longer swamped by kind 0
    sure = np.where(kinds == 0, 0.99, np.where(kinds == 1, 0.97, 0.01))
    assert tilt_from_scores(z, sure, cfg, kinds=kinds) == tilt_from_scores(z, sure, replace_balance(cfg))


def replace_balance(cfg: TiltConfig) -> TiltConfig:
    return replace(cfg, kind_balance=1.0)


def test_rows_kinds_are_the_judges_classes_or_clusters_of_the_learned_view():
    probs = np.eye(10)[[3, 7, 7, 1]]
    rows = np.concatenate([np.zeros((4, 5)), probs, np.zeros((4, 2))], axis=1)
    assert row_kinds(rows, [("learned", 5), ("kinds", 10), ("stats", 2)]).tolist() == [3, 7, 7, 1]
    rng = np.random.default_rng(0)
    learned = np.concatenate([rng.normal(-5, 0.1, (50, 3)), rng.normal(5, 0.1, (50, 3))])
    labels = row_kinds(np.concatenate([learned, np.zeros((100, 2))], 1), [("learned", 3), ("stats", 2)], k=2)
    assert len(set(labels[:50])) == 1 and len(set(labels[50:])) == 1 and labels[0] != labels[-1]


def test_a_balanced_tilt_keeps_both_liked_bands_of_a_tiny_gan(models_dir):
    """Two liked bands, one a little likelier under an unsure reward model: the sharpened tilt all but drops
    the other; balanced, the child keeps drawing both."""
    model = load_model("syn-gan", models_dir=models_dir)
    counts = np.bincount(band_class(model.sample(600, 5)), minlength=3)
    first, second = np.argsort(counts)[::-1][:2]  # the two commonest bands: both liked, the first a little more

    def p_liked(images: np.ndarray) -> np.ndarray:
        band = band_class(images)
        return np.where(band == first, 0.8, np.where(band == second, 0.62, 0.25))

    cfg = TiltConfig(draws=2000, components=1024, kind_balance=0.5)
    shares = {}
    for gamma in (1.0, 0.5):
        record, summary = tilted_prior(model, p_liked, replace_balance(cfg) if gamma == 1 else cfg, kinds=band_class)
        model.prior = MixturePrior.from_record(record)
        drawn = np.bincount(band_class(model.sample(800, 9)), minlength=len(counts)) / 800
        shares[gamma] = drawn[second]
        model.prior = None
        assert summary["tilt_temperature"] < TEMPERATURES[0]
    assert shares[0.5] > shares[1.0] + 0.05, shares
