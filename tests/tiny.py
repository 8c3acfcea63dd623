"""Tiny models on synthetic bars, shared by the test folders: trained in seconds, saved like real ones."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc.data.datasets import ImageDataset
from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.training.loop import TrainConfig, save_final, train

BANDS = 4  # synthetic_dataset's default number of classes


def band_class(images: np.ndarray) -> np.ndarray:
    """The simulated rater's judge for synthetic bars: which band is brightest."""
    x = images[..., 0].astype(np.float64)
    return np.argmax([x[:, c * 6 : c * 6 + 3, :].mean(axis=(1, 2)) for c in range(BANDS)], axis=0)


def train_tiny(
    kind: str,
    data: ImageDataset,
    path: str | Path,
    steps: int,
    run_dir: str | Path,
    *,
    name: str | None = None,
    hidden: int = 64,
    seed: int = 0,
) -> Path:
    """Train a width-8, 8-d latent VAE or GAN on `data` for `steps` and save it at `path` (named after the file).

    One torch thread: session fixtures run before any per-test fixture could set it, and with torch's
    default (every core) these tiny steps spend their time waiting for each other on a busy machine.
    Seeded: the weights start from `seed`, not from whatever the global generator holds when the first
    pytest-xdist worker that needs them gets here (which tests ran before decides that), so every run of
    the suite trains the same tiny models.
    """
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = (
        VAE(VAEConfig(width=8, hidden=hidden, latent_dim=8))
        if kind == "vae"
        else GAN(GANConfig(g_width=8, d_width=8, latent_dim=8))
    )
    record = CheckpointRecord(kind=kind, config={}, name=name or Path(path).stem, dataset=data.name)
    train(
        model,
        data,
        TrainConfig(out_dir=str(run_dir), steps=steps, batch_size=64, progress=False, sample_every=0),
        record,
    )
    return save_final(path, model, record)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build(folder)` fills once per test run, shared by all pytest-xdist workers.

    The first worker to get here builds it under a file lock; the others wait for the lock and reuse the
    result (pytest-xdist's own recipe for session fixtures). Without xdist it is a plain session folder.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's basetemp is <the run's basetemp>/popen-gwN
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if `build` fails
        if not folder.exists():
            partial = root / f"shared-{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(folder)  # complete or absent: a failed build is retried, never half reused
    return folder
