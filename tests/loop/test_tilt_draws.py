"""A parent's tilt draws kept on disk: every run of a parent reads the same pictures' features back."""

from __future__ import annotations

import numpy as np
import pytest

from aigc import load_model
from aigc.feedback import tilt_draws
from aigc.feedback.features import reward_features
from aigc.feedback.latent_prior import TiltConfig, tilt_from_scores, tilted_prior
from aigc.feedback.tilt_draws import cache_folder, parent_draws, warm_parent_draws
from aigc.models.pipeline import ImageModel

from .conftest import band_class


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _no_generating(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(ImageModel, "generate", refuse)


def test_the_second_read_decodes_nothing_and_tilts_exactly_as_fresh_draws(cache, models_dir, monkeypatch):
    gan = load_model("syn-gan", models_dir=models_dir)
    rf = reward_features(gan)
    cfg = TiltConfig(draws=300, components=64)
    z, feats = parent_draws(gan, rf, cfg.draws, cfg.seed)
    assert z.shape == (300, gan.latent_dim) and feats.shape == (300, sum(d for _, d in rf.blocks))
    (stored,) = cache_folder().glob("*.safetensors")
    assert stored.stat().st_mode & 0o777 == 0o644  # readable like the other cache files

    weights = np.random.default_rng(0).normal(size=feats.shape[1])

    def liked(pictures: np.ndarray) -> np.ndarray:  # any fixed reward on the features
        return 1 / (1 + np.exp(-(rf.compute(pictures) - feats.mean(0)) @ weights / 10))

    fresh_record, fresh_summary = tilted_prior(gan, liked, cfg)  # decodes its own draws
    _no_generating(monkeypatch)
    z2, feats2 = parent_draws(gan, rf, cfg.draws, cfg.seed)
    assert np.array_equal(z, z2) and np.array_equal(feats, feats2)
    p = 1 / (1 + np.exp(-(feats2 - feats.mean(0)) @ weights / 10))
    record, summary = tilt_from_scores(z2, p, cfg)
    assert record == fresh_record and summary == fresh_summary


def test_another_seed_count_or_parent_is_another_file(cache, models_dir):
    gan = load_model("syn-gan", models_dir=models_dir)
    rf = reward_features(gan)
    parent_draws(gan, rf, 120, 0)
    parent_draws(gan, rf, 120, 1)
    parent_draws(gan, rf, 150, 0)
    gan.record.extra["prior"] = {"weights": [1.0], "means": [[0.0] * gan.latent_dim], "scale": 1.0}  # a child
    parent_draws(gan, rf, 120, 0)
    assert len(list(cache_folder().glob("*.safetensors"))) == 4


def test_a_damaged_or_stale_file_is_computed_again(cache, models_dir, monkeypatch):
    gan = load_model("syn-gan", models_dir=models_dir)
    rf = reward_features(gan)
    z, feats = parent_draws(gan, rf, 120, 0)
    (path,) = cache_folder().glob("*.safetensors")
    path.write_bytes(b"not a safetensors file")
    z2, feats2 = parent_draws(gan, rf, 120, 0)  # no error: only a cache
    assert np.array_equal(z, z2) and np.array_equal(feats, feats2)

    class Changed:  # the feature code changed since the file was written: its stored pictures tell
        name, blocks = rf.name, rf.blocks

        def compute(self, images):
            return rf.compute(images) + 1.0

    z3, feats3 = parent_draws(gan, Changed(), 120, 0)
    assert np.allclose(feats3, feats + 1.0)


def test_only_the_most_recently_used_files_are_kept(cache, models_dir, monkeypatch):
    monkeypatch.setattr(tilt_draws, "MAX_FILES", 2)
    gan = load_model("syn-gan", models_dir=models_dir)
    rf = reward_features(gan)
    for seed in range(4):
        parent_draws(gan, rf, 100, seed)
    assert len(list(cache_folder().glob("*.safetensors"))) == 2


def test_the_warm_up_draws_a_gans_parent_tilt_once_and_a_vae_none(cache, models_dir):
    gan = load_model("syn-gan", models_dir=models_dir)
    assert warm_parent_draws(gan) is True
    assert warm_parent_draws(gan) is False  # cached
    assert warm_parent_draws(load_model("syn-vae", models_dir=models_dir)) is False  # a VAE trains on N(0, I)
    assert len(list(cache_folder().glob("*.safetensors"))) == 1


@pytest.mark.heavy  # a whole fine-tune / benchmark pages: seconds (the fast run keeps under a minute)
def test_a_run_after_the_warm_up_decodes_no_parent_draws(cache, studio, models_dir, monkeypatch):
    from aigc.feedback.finetune import FinetuneConfig, finetune

    from .conftest import rate_by_band

    parent = load_model("syn-gan", models_dir=models_dir)
    liked = int(np.bincount(band_class(parent.sample(600, 5)), minlength=3).argmin())
    rate_by_band(studio, "syn-gan", liked, n=60)
    rate_by_band(studio, "syn-gan", liked, n=40, seed=2)
    assert studio.runs.warm_up(["syn-gan", "syn-vae"]) == ["syn-gan"]  # (not the shipped ones: no 60k embedding)
    calls: list[int] = []
    generate = ImageModel.generate

    def counted(self, n, seed, *args, **kwargs):
        calls.append(seed)
        return generate(self, n, seed, *args, **kwargs)

    monkeypatch.setattr(ImageModel, "generate", counted)
    result = finetune(
        "syn-gan", studio.store, FinetuneConfig(steps=5, progress=False, eval_n=100), models_dir=models_dir
    )
    assert result.metrics["train_tilt_mean_p_drawn"] >= result.metrics["train_tilt_mean_p_before"]
    assert calls.count(7919) == 1  # the child's own tilt draws; the parent's came from the cache


def test_a_cache_folder_that_cannot_be_written_never_fails_the_run(tmp_path, models_dir, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("AIGC_CACHE_DIR", str(blocked))
    gan = load_model("syn-gan", models_dir=models_dir)
    z, feats = parent_draws(gan, reward_features(gan), 100, 0)
    assert z.shape == (100, gan.latent_dim) and len(feats) == 100
