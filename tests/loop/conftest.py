"""Fixtures for the feedback-loop tests: a tiny VAE and GAN trained on synthetic bars, an isolated home."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from aigc.data.datasets import synthetic_dataset
from tests.tiny import BANDS, band_class, built_once, train_tiny

__all__ = ["BANDS", "band_class", "rate_by_band"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> str:
    """A models folder with syn-vae and syn-gan, trained 150 and 100 steps on synthetic bars (once per run)."""

    def build(folder: Path) -> None:
        data = synthetic_dataset(n=512, classes=BANDS)
        for kind, steps in (("vae", 150), ("gan", 100)):
            train_tiny(kind, data, folder / f"syn-{kind}.safetensors", steps, folder / f"run-{kind}")

    return str(built_once(tmp_path_factory, "loop-models", build))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def models_dir(tiny_models, tmp_path) -> str:
    """A per-test copy of the tiny models: children written by one test never leak into another."""
    target = tmp_path / "models"
    shutil.copytree(tiny_models, target, ignore=shutil.ignore_patterns("run-*"))
    return str(target)


@pytest.fixture
def studio(home, models_dir, tmp_path):
    from aigc.service.studio import Studio

    with Studio.open(db_url=f"sqlite:///{tmp_path}/feedback.sqlite", models_dir=models_dir) as s:
        yield s


def rate_by_band(studio, model: str, liked_band: int, n: int = 60, rater: str = "sim", seed: int = 1) -> float:
    """Rate n fresh samples as a rater who likes one band; returns the liked share."""
    batch = studio.sample(model, n, seed, rater=rater)
    classes = band_class(batch.images)
    for sample_id, c in zip(batch.sample_ids, classes):
        studio.rate(sample_id, 1.0 if c == liked_band else -1.0, rater)
    return float((classes == liked_band).mean())
