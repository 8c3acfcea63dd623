"""A VAE's reconstruction report: error on held-out images and the test/reconstruction grid for its card."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from aigc.evaluation.reconstruction import GRID_COLUMNS, reconstruction_report
from aigc.models import VAE, VAEConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.models.pipeline import ImageModel
from tests.engine.test_data_idx import write_split


def test_report_measures_error_and_draws_pairs_of_rows(tmp_path):
    write_split(tmp_path / "data", split="test", n=80, gz=False)
    torch.manual_seed(0)
    model = ImageModel(VAE(VAEConfig(width=8, hidden=16, latent_dim=4)), CheckpointRecord("vae", {}), device="cpu")
    grid = tmp_path / "grid.png"
    report = reconstruction_report(model, data=str(tmp_path / "data"), n=70, grid_path=grid)
    assert report["recon_n"] == 70
    # uniform-noise test images and an untrained decoder (≈ grey): the mean absolute error is about a quarter
    assert 0.15 < report["recon_mae"] < 0.4 and 0 < report["recon_mse"] < report["recon_mae"]
    width, height = Image.open(grid).size
    cell = 28 * 2 + 2 * 2  # upscale 2 with the grid's padding
    assert abs(width - GRID_COLUMNS * cell) <= 4 * GRID_COLUMNS and abs(height - 8 * cell) <= 4 * 8


def test_a_perfect_decoder_scores_zero(tmp_path, monkeypatch):
    write_split(tmp_path / "data", split="test", n=20, gz=False)
    model = ImageModel(VAE(VAEConfig(width=8, hidden=16, latent_dim=4)), CheckpointRecord("vae", {}), device="cpu")
    import aigc.evaluation.reconstruction as rec

    monkeypatch.setattr(rec, "reconstruct", lambda _model, images, batch=500: np.array(images))
    report = reconstruction_report(model, data=str(tmp_path / "data"), n=20)
    assert report["recon_mae"] == 0 and report["recon_mse"] == 0
