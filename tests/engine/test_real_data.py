"""Real Fashion-MNIST (Debian package dataset-fashion-mnist) and the shipped models. Run with `pytest -m slow`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aigc import load_model
from aigc.cli import main
from aigc.data import datasets as data
from aigc.models import GAN, GANConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.paths import PRETRAINED_DIR
from aigc.training.loop import TrainConfig, train

pytestmark = pytest.mark.slow

needs_debian_data = pytest.mark.skipif(
    not (data.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST not at {data.DEBIAN_FASHION_MNIST}: apt-get install dataset-fashion-mnist",
)


@pytest.fixture(scope="module")
def fashion_train():
    return data.load_idx_dataset(data.DEBIAN_FASHION_MNIST, split="train")


@needs_debian_data
def test_real_fashion_mnist_splits(fashion_train):
    test = data.load_idx_dataset(data.DEBIAN_FASHION_MNIST, split="test")
    assert fashion_train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    for ds in (fashion_train, test):
        assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0
        counts = torch.bincount(ds.labels, minlength=10)
        assert counts.shape == (10,) and (counts == len(ds) // 10).all()  # 10 balanced classes
    assert len(data.FASHION_MNIST_CLASSES) == 10
    assert len(data.load_dataset(None, limit=100)) == 100  # found without --data (the Debian place)


@needs_debian_data
def test_tiny_gan_trains_on_real_data(tmp_path, fashion_train):
    gan = GAN(GANConfig(g_width=8, d_width=8))
    subset = data.ImageDataset(fashion_train.images[:2048], fashion_train.labels[:2048], "fashion-mnist:2048")
    result = train(
        gan,
        subset,
        TrainConfig(out_dir=str(tmp_path / "run"), steps=8, batch_size=64, progress=False, sample_every=8),
        CheckpointRecord("gan", {}),
    )
    assert result.steps == 8 and all(np.isfinite(v) for v in result.final_losses.values())
    assert (tmp_path / "run" / "samples" / "step_000008.png").exists()


SHIPPED = ["fashion-gan", "fashion-vae", "fashion-classifier"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads(name):
    path = PRETRAINED_DIR / f"{name}.safetensors"
    assert path.exists(), f"{path} is missing: the shipped models are package data (`make pretrained` retrains them)"
    from aigc.models.checkpoint import load_module

    module, record = load_module(path)
    assert module.kind == name.split("-")[1] and record.training.get("steps", 0) > 0
    assert path.with_suffix(".md").exists(), "every shipped checkpoint has a model card"
    if module.kind != "classifier":
        model = load_model(name)
        images = model.sample(4, seed=0)
        assert images.shape == (4, 28, 28, 1) and images.dtype == np.uint8
        assert images.std() > 10  # not a blank or constant image


def test_shipped_gan_samples_through_the_cli(tmp_path, monkeypatch, capsys):
    path = PRETRAINED_DIR / "fashion-gan.safetensors"
    assert path.exists(), f"{path} is missing: the shipped models are package data (`make pretrained` retrains them)"
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "fashion-gan", "--n", "64", "--seed", "0", "--out", "grid.png"]) == 0
    with Image.open(tmp_path / "grid.png") as img:
        assert img.size == (8 * 30 + 2, 8 * 30 + 2)
        first = np.asarray(img)
    assert main(["sample", "fashion-gan", "--n", "64", "--seed", "0", "--out", "again.png"]) == 0
    np.testing.assert_array_equal(first, np.asarray(Image.open(tmp_path / "again.png")))


@needs_debian_data
def test_evaluate_update_card_says_whose_class_gap_it_is(tmp_path, capsys):
    """`aigc evaluate --update-card` on a VAE: its card shows the judge's class shares of test images and of their
    reconstructions, measured on as many test images as samples."""
    import json
    import shutil

    from aigc.models.checkpoint import read_checkpoint

    copy = tmp_path / "vae-copy.safetensors"
    shutil.copy(PRETRAINED_DIR / "fashion-vae.safetensors", copy)
    assert main(["evaluate", str(copy), "--n", "400", "--update-card"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 400
    recon = read_checkpoint(copy)[1].extra["reconstruction"]
    assert recon["recon_n"] == 400 and abs(sum(recon["recon_class_shares"]) - 1) < 1e-3
    # the test images' own shares: the first 400 test labels are near-balanced, and the judge is 92% right
    assert recon["test_class_gap"] < 0.06 and recon["recon_class_shares"] != recon["test_class_shares"]
    card = copy.with_suffix(".md").read_text()
    assert f"reconstructions {recon['recon_class_gap']}" in card and "| test images |" in card
    assert (tmp_path / "vae-copy.reconstructions.png").exists()
