"""Shared fixtures for the engine tests: one torch thread, a private AIGC_HOME, no downloads, tiny models.

Real-data tests are marked `slow`; pyproject's addopts deselects them unless run with `-m slow`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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


def toy_bars():
    """The engine tests' toy data, one definition for the per-test fixture and the per-process network."""
    return synthetic_dataset(n=128, size=28, channels=1, classes=4, seed=0)


@pytest.fixture
def toy_data():
    """128 labelled 28×28 grey images in four classes (bars at class-dependent rows)."""
    return toy_bars()


@pytest.fixture
def record():
    return lambda kind, **kw: CheckpointRecord(kind=kind, config={}, **kw)


@pytest.fixture(scope="session")
def trained_perceptual(tmp_path_factory) -> Path:
    """A tiny classifier trained on the toy bars, saved like `aigc train classifier` saves one: trained once
    per process (12 tests read it; training it for each cost ~0.5 s apiece)."""
    from aigc.training.loop import TrainConfig, save_final, train

    folder = tmp_path_factory.mktemp("perceptual")
    torch.set_num_threads(1)
    torch.manual_seed(1)
    clf = TINY["classifier"]()
    run = TrainConfig(out_dir=str(folder / "clf"), steps=40, batch_size=32, progress=False, sample_every=0)
    train(clf, toy_bars(), run, CheckpointRecord(kind="classifier", config={}))
    record = CheckpointRecord(kind="classifier", config={}, name="perceptual")
    return save_final(folder / "perceptual.safetensors", clf, record)


@pytest.fixture
def perceptual_file(tmp_path, trained_perceptual) -> Path:
    """The tiny perceptual network, a copy of its own for each test (a test may check the file is untouched)."""
    copy = tmp_path / "perceptual.safetensors"
    shutil.copyfile(trained_perceptual, copy)
    return copy


@pytest.fixture
def aigc_typed(monkeypatch):
    """aigc_typed(*args) → exit code of `aigc ARGS` as if typed at a shell: the record keeps sys.argv as the command."""
    from aigc.cli import main

    def run(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["aigc", *args])
        return main(list(args))

    return run
