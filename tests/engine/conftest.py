"""Shared fixtures for the engine tests: one torch thread, a private AIGC_HOME, no downloads, tiny models.

Real-data tests are marked `slow`; pyproject's addopts deselects them unless run with `-m slow`.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

from aigc.data.datasets import synthetic_dataset
from aigc.models import GAN, VAE, Classifier, ClassifierConfig, GANConfig, VAEConfig
from aigc.models.checkpoint import CheckpointRecord


@pytest.fixture(autouse=True)
def _engine_env(monkeypatch, tmp_path):
    """Every test: one intra-op thread (two busy cores), its own AIGC_HOME, never the network."""
    torch.set_num_threads(1)
    monkeypatch.setenv("AIGC_HOME", str(tmp_path / "aigc-home"))
    monkeypatch.setenv("AIGC_NO_DOWNLOAD", "1")
    monkeypatch.delenv("AIGC_DATA_DIR", raising=False)


TINY = {
    "gan": lambda size=28, channels=1: GAN(
        GANConfig(image_size=size, channels=channels, g_width=8, d_width=8, latent_dim=16)
    ),
    "vae": lambda size=28, channels=1: VAE(
        VAEConfig(image_size=size, channels=channels, width=8, hidden=32, latent_dim=8)
    ),
    "classifier": lambda size=28, channels=1: Classifier(
        ClassifierConfig(image_size=size, channels=channels, width=8, embed_dim=16)
    ),
}


@pytest.fixture
def tiny_model():
    """tiny_model(kind, size=28, channels=1, seed=0) → a freshly initialised tiny network."""

    def make(kind: str, size: int = 28, channels: int = 1, seed: int = 0):
        torch.manual_seed(seed)
        return TINY[kind](size, channels)

    return make


@pytest.fixture
def toy_data():
    """128 labelled 28×28 grey images in four classes (bars at class-dependent rows)."""
    return synthetic_dataset(n=128, size=28, channels=1, classes=4, seed=0)


@pytest.fixture
def record():
    return lambda kind, **kw: CheckpointRecord(kind=kind, config={}, **kw)


@pytest.fixture
def perceptual_file(tmp_path, tiny_model, toy_data, record):
    """A tiny classifier trained on the toy bars, saved like `aigc train classifier` saves one."""
    from aigc.training.loop import TrainConfig, save_final, train

    clf = tiny_model("classifier", seed=1)
    run = TrainConfig(out_dir=str(tmp_path / "clf"), steps=40, batch_size=32, progress=False, sample_every=0)
    train(clf, toy_data, run, record("classifier"))
    return save_final(tmp_path / "perceptual.safetensors", clf, record("classifier", name="perceptual"))


@pytest.fixture
def aigc_typed(monkeypatch):
    """aigc_typed(*args) → exit code of `aigc ARGS` as if typed at a shell: the record keeps sys.argv as the command."""
    from aigc.cli import main

    def run(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["aigc", *args])
        return main(list(args))

    return run
