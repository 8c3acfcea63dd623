"""Fixtures for the feedback-loop tests: a tiny VAE and GAN trained on synthetic bars, an isolated home."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from aigc.checkpoint import CheckpointRecord
from aigc.data import synthetic_dataset
from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.train import TrainConfig, save_final, train

BANDS = 4


def band_class(images: np.ndarray) -> np.ndarray:
    """The simulated rater's judge for synthetic bars: which band is brightest."""
    x = images[..., 0].astype(np.float64)
    return np.argmax([x[:, c * 6 : c * 6 + 3, :].mean(axis=(1, 2)) for c in range(BANDS)], axis=0)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> str:
    """A models folder with syn-vae and syn-gan, trained a few hundred steps on synthetic bars."""
    folder = tmp_path_factory.mktemp("models")
    data = synthetic_dataset(n=512, classes=BANDS)
    for kind, model, steps in (("vae", VAE(VAEConfig(width=8, hidden=64, latent_dim=8)), 300),
                               ("gan", GAN(GANConfig(g_width=8, d_width=8, latent_dim=8)), 100)):
        record = CheckpointRecord(kind=kind, config={}, name=f"syn-{kind}", dataset=data.name)
        train(model, data, TrainConfig(out_dir=str(folder / f"run-{kind}"), steps=steps, batch_size=64, progress=False, sample_every=0), record)
        save_final(folder / f"syn-{kind}.safetensors", model, record)
    return str(folder)


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
    from aigc.studio import Studio

    with Studio(db_url=f"sqlite:///{tmp_path}/feedback.sqlite", models_dir=models_dir) as s:
        yield s


def rate_by_band(studio, model: str, liked_band: int, n: int = 60, rater: str = "sim", seed: int = 1) -> float:
    """Rate n fresh samples as a rater who likes one band; returns the liked share."""
    batch = studio.sample(model, n, seed, session=rater)
    classes = band_class(batch.images)
    for sample_id, c in zip(batch.sample_ids, classes):
        studio.rate(sample_id, 1.0 if c == liked_band else -1.0, rater)
    return float((classes == liked_band).mean())
