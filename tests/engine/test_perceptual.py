"""The VAE's perceptual term: a frozen classifier's view of images and reconstructions joins the ELBO.

The GAN's (nearest real images) is in test_gan_perceptual.py."""

from __future__ import annotations

import pytest
import torch

from aigc.cli import main
from aigc.models.checkpoint import CheckpointError, file_sha256, read_checkpoint, tensors_sha256
from aigc.training.loop import TrainConfig, save_final, train
from aigc.training.perceptual import PerceptualDistance, inherited


def cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / "run"), steps=30, batch_size=32, progress=False, sample_every=0, log_every=10)
    return TrainConfig(**{**base, **kw})


def test_distance_is_zero_to_itself_and_larger_across_classes_than_for_noise(perceptual_file, toy_data):
    distance = PerceptualDistance.load(perceptual_file)
    x = toy_data.images[toy_data.labels == 0][:16]
    other = toy_data.images[toy_data.labels == 2][:16]
    noisy = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    assert distance(x, x).abs().max() < 1e-5
    near, far = distance(x, noisy), distance(x, other)
    assert near.shape == far.shape == (16,)
    assert far.mean() > 3 * near.mean(), (near.mean(), far.mean())


def test_gradient_reaches_the_images_and_never_the_network(perceptual_file, toy_data):
    distance = PerceptualDistance.load(perceptual_file)
    distance.train()  # asking for training mode keeps the network as it was trained
    assert not distance.net.training
    y = torch.zeros(8, 1, 28, 28, requires_grad=True)
    distance(toy_data.images[:8], y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in distance.net.parameters())


@pytest.mark.heavy
def test_vae_trained_with_the_term_draws_closer_to_it_and_leaves_the_network_untouched(
    tmp_path, tiny_model, toy_data, record, perceptual_file
):
    before = file_sha256(perceptual_file)
    distance = PerceptualDistance.load(perceptual_file)
    trained = {}
    for weight in (0.0, 50.0):
        vae = tiny_model("vae", seed=3)
        options = {"perceptual": str(perceptual_file), "perceptual_weight": weight} if weight else {}
        result = train(vae, toy_data, cfg(tmp_path / f"w{weight}", steps=60, **options), record("vae"))
        with torch.no_grad():
            mu, _ = vae.encode(toy_data.images)
            trained[weight] = distance(toy_data.images, vae.decode(mu)).mean().item()
        assert ("perceptual" in result.final_losses) == bool(weight)
    assert trained[50.0] < 0.85 * trained[0.0], trained
    assert file_sha256(perceptual_file) == before


def test_refusals_name_the_problem(tmp_path, tiny_model, toy_data, record, perceptual_file):
    vae_file = save_final(tmp_path / "vae.safetensors", tiny_model("vae"), record("vae"))
    with pytest.raises(CheckpointError, match="needs a classifier checkpoint"):
        PerceptualDistance.load(vae_file)
    with pytest.raises(ValueError, match="trains a generator or a VAE's decoder; this run trains a classifier"):
        run = cfg(tmp_path, perceptual=str(perceptual_file), perceptual_weight=1)
        train(tiny_model("classifier"), toy_data, run, record("classifier"))
    with pytest.raises(ValueError, match="must be a positive number"):
        train(tiny_model("vae"), toy_data, cfg(tmp_path, perceptual=str(perceptual_file)), record("vae"))
    big = tiny_model("classifier", size=32)
    wide_file = save_final(tmp_path / "wide.safetensors", big, record("classifier"))
    with pytest.raises(ValueError, match=r"perceptual network reads 1×32×32 images; this model's are 1×28×28"):
        train(tiny_model("vae"), toy_data, cfg(tmp_path, perceptual=str(wide_file), perceptual_weight=1), record("vae"))


def test_cli_records_the_network_and_the_card_shows_the_whole_recipe(tmp_path, capsys, monkeypatch, aigc_typed):
    """The perceptual network is not shipped, so the VAE's card must hold the command that makes it, before the
    stage that read it, and count its training time in the model's total."""
    monkeypatch.chdir(tmp_path)

    aigc = aigc_typed

    assert aigc("train", "classifier", "--dry-run", "--quiet", "--out", "c", "--save", "c.safetensors") == 0
    assert aigc("train", "vae", "--dry-run", "--quiet", "--out", "first") == 0
    stage2 = ["train", "vae", "--dry-run", "--quiet", "--init", "first/vae.safetensors", "--out", "on"]
    assert aigc(*stage2, "--save", "p.safetensors", "--perceptual", "c.safetensors", "--perceptual-weight", "20") == 0
    tensors, rec, _ = read_checkpoint(tmp_path / "p.safetensors")
    assert rec.training["config"]["perceptual"] == "c.safetensors"
    assert rec.training["config"]["perceptual_weight"] == 20.0
    assert "perceptual" in rec.training["final_losses"]
    network = rec.training["perceptual_network"]
    _, clf_record, _ = read_checkpoint(tmp_path / "c.safetensors")
    assert network["weights_sha256"] == tensors_sha256(read_checkpoint(tmp_path / "c.safetensors")[0])
    made_by = "aigc train classifier --dry-run --quiet --out c --save c.safetensors"
    assert network["command"] == clf_record.training["command"] == made_by
    card = (tmp_path / "p.md").read_text()
    block = card.split("```")[1].strip().splitlines()
    assert block == [rec.training["stages"][0]["command"], network["command"], rec.training["command"]]
    assert block[0].startswith("aigc train vae") and "--perceptual c.safetensors" in block[2]
    assert "stage 2's perceptual network (trained first; a VAE's fine-tunes read it too)" in card
    stages = [*rec.training["stages"], rec.training]
    total = sum(s["wall_time_s"] for s in stages) + network["wall_time_s"]
    assert f"- total wall time: {total:.1f} s" in card
    # a fine-tune finds the network again by its weights' hash, wherever the models are looked up
    assert inherited(rec, [tmp_path / "first", tmp_path]) == (tmp_path / "c.safetensors", 20.0)
    assert inherited(rec, [tmp_path / "first"]) is None  # not among the models: no term, and no error
    assert inherited(clf_record, [tmp_path]) is None  # trained without one
    (tmp_path / "c.safetensors").rename(tmp_path / "kept.bin")
    other = ["train", "classifier", "--dry-run", "--quiet", "--out", "c2", "--save", "c.safetensors", "--seed", "5"]
    assert aigc(*other) == 0
    assert inherited(rec, [tmp_path]) is None  # the same name with other weights is another network
    capsys.readouterr()
    assert main(["train", "classifier", "--dry-run", "--quiet", "--perceptual", "c.safetensors"]) == 2
    assert "this run trains a classifier" in capsys.readouterr().err
