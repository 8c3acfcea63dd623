"""A VAE's reconstruction report: error on held-out images and the test/reconstruction grid for its card."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_the_judge_tells_a_decoders_class_gap_from_the_test_images_own(tmp_path, monkeypatch):
    """A decoder that draws everything as one picture floods one class; a perfect one has the test images' gap."""
    write_split(tmp_path / "data", split="test", n=60, gz=False)
    model = ImageModel(VAE(VAEConfig(width=8, hidden=16, latent_dim=4)), CheckpointRecord("vae", {}), device="cpu")
    import aigc.evaluation.reconstruction as rec

    monkeypatch.setattr(rec, "reconstruct", lambda _model, images, batch=500: np.array(images))
    perfect = reconstruction_report(model, data=str(tmp_path / "data"), n=60, judge_classes=True)
    assert perfect["recon_class_shares"] == perfect["test_class_shares"]
    assert perfect["recon_class_gap"] == perfect["test_class_gap"]
    assert abs(sum(perfect["test_class_shares"]) - 1) < 1e-3

    monkeypatch.setattr(rec, "reconstruct", lambda _model, images, batch=500: np.repeat(images[:1], len(images), 0))
    one_kind = reconstruction_report(model, data=str(tmp_path / "data"), n=60, judge_classes=True)
    assert one_kind["recon_class_gap"] == 0.9 and max(one_kind["recon_class_shares"]) == 1.0
    assert one_kind["test_class_shares"] == perfect["test_class_shares"]


def test_the_judge_refuses_images_it_cannot_read(tmp_path):
    write_split(tmp_path / "data", split="test", n=10, gz=False)
    cfg = VAEConfig(image_size=32, width=8, hidden=16, latent_dim=4)
    model = ImageModel(VAE(cfg), CheckpointRecord("vae", {}), device="cpu")
    report = reconstruction_report(model, data=str(tmp_path / "data"), n=10)  # no judge: fine at any size
    assert "recon_class_gap" not in report
    with pytest.raises(ValueError, match="28×28 greyscale"):
        reconstruction_report(model, data=str(tmp_path / "data"), n=10, judge_classes=True)
