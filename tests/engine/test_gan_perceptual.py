"""The GAN's perceptual term (each picture pulled towards its nearest real image) and --class-weights."""

from __future__ import annotations

import pytest
import torch

from aigc.cli.commands import class_sampling_weights
from aigc.data.datasets import ImageDataset
from aigc.models.checkpoint import read_checkpoint
from aigc.training.loop import TrainConfig, train
from aigc.training.perceptual import NearestRealImages, PerceptualDistance


def cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / "run"), steps=60, batch_size=32, progress=False, sample_every=0, log_every=10)
    return TrainConfig(**{**base, **kw})


def test_nearest_real_images_are_found_by_the_networks_view(perceptual_file, toy_data):
    distance = PerceptualDistance.load(perceptual_file)
    nearest = NearestRealImages(distance, toy_data.images, chunk=50)  # chunks: the keys are built in pieces
    assert nearest.keys.shape == (len(toy_data), distance.net.cfg.embed_dim)
    # a real image is its own nearest; a slightly noisy one finds a real image of its own class
    assert torch.equal(nearest(toy_data.images[:20]), toy_data.images[:20])
    noisy = (toy_data.images[:40] + 0.1 * torch.randn(40, 1, 28, 28, generator=torch.Generator().manual_seed(1))).clamp(
        -1, 1
    )
    found = nearest(noisy)
    rows = [int((toy_data.images == f).flatten(1).all(1).nonzero()[0]) for f in found]
    same_class = (toy_data.labels[rows] == toy_data.labels[:40]).float().mean()
    assert same_class >= 0.9, same_class


def test_realism_ranks_real_above_noisy_above_noise(perceptual_file, toy_data):
    """The tilt's realism score under the real network: a real image of the bank is inside its own ball,
    noise added lowers it, pure noise lowest."""
    distance = PerceptualDistance.load(perceptual_file)
    nearest = NearestRealImages(distance, toy_data.images[:100])
    gen = torch.Generator().manual_seed(2)
    real = toy_data.images[:30]
    noisy = (real + 0.5 * torch.randn(real.shape, generator=gen)).clamp(-1, 1)
    noise = torch.rand(real.shape, generator=gen) * 2 - 1
    scores = [nearest.realism(x, chunk=7) for x in (real, noisy, noise)]  # chunks: scored in pieces
    assert (scores[0] >= 1.0).all()
    assert scores[1].median() < scores[0].min() and scores[2].mean() < scores[1].mean(), scores


class _Identity:
    """A stand-in network whose embedding is the point itself, so the geometry is plain to read."""

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()


def _grid(centre: tuple[float, float], spacing: float, n: int = 5) -> torch.Tensor:
    steps = torch.arange(n, dtype=torch.float32) * spacing
    return torch.cartesian_prod(steps + centre[0], steps + centre[1])


def test_realism_scores_by_each_real_images_own_neighbourhood():
    """Kynkäänniemi's realism score: a point half a unit from a sparse kind (real images 1 apart) is inside
    its k-NN balls, the same half unit from a crowded kind (0.01 apart) is far outside them, though the
    nearest real image is equally near in both; the bank's own images are inside; farther is less real."""
    crowded, sparse = _grid((0.0, 0.0), 0.01), _grid((100.0, 0.0), 1.0)
    bank = NearestRealImages(_Identity(), torch.cat([crowded, sparse]))  # type: ignore[arg-type]
    near_crowded = torch.tensor([[-0.5, 0.02]])  # 0.5 from the crowded grid's left edge
    near_sparse = torch.tensor([[99.5, 2.0]])  # 0.5 from the sparse grid's left edge
    far = torch.tensor([[50.0, 50.0]])
    scores = bank.realism(torch.cat([near_crowded, near_sparse, far, crowded[:3], sparse[:3]]), k=3, chunk=2)
    assert scores[0] < 0.05 and scores[1] >= 1.0, scores  # radii 0.01 and 1: 0.02 and 2
    assert scores[2] < scores[0]
    assert (scores[3:] >= 1.0).all()
    with pytest.raises(ValueError, match="k must be between 1 and 49"):
        bank.realism(far, k=50)


@pytest.mark.heavy
def test_gan_trained_with_the_term_draws_closer_to_real_images(tmp_path, tiny_model, toy_data, record, perceptual_file):
    """The term's whole point: the generator's pictures end nearer to a real image under the network."""
    distance = PerceptualDistance.load(perceptual_file)
    nearest = NearestRealImages(distance, toy_data.images)
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(2))
    after = {}
    for weight in (0.0, 20.0):
        gan = tiny_model("gan", seed=3)
        options = {"perceptual": str(perceptual_file), "perceptual_weight": weight} if weight else {}
        result = train(gan, toy_data, cfg(tmp_path / f"w{weight}", steps=80, lr=1e-3, **options), record("gan"))
        assert ("nearest" in result.final_losses) == bool(weight)
        gan.eval()
        with torch.no_grad():
            pictures = gan.decode(z)
            after[weight] = distance(nearest(pictures), pictures).mean().item()
    assert after[20.0] < 0.5 * after[0.0], after  # measured: 0.83 against 5.07


def test_a_gan_term_refuses_what_cannot_serve(tmp_path, tiny_model, toy_data, perceptual_file, record):
    with pytest.raises(ValueError, match="must be a positive number"):
        train(tiny_model("gan"), toy_data, cfg(tmp_path, perceptual=str(perceptual_file)), record("gan"))
    with pytest.raises(ValueError, match=r"reads 1×28×28 images; this model's are 1×32×32"):
        big = tiny_model("gan", size=32)
        train(big, toy_data, cfg(tmp_path, perceptual=str(perceptual_file), perceptual_weight=1.0), record("gan"))


def test_class_weights_draw_a_class_more_often_and_refuse_nonsense(toy_data):
    weights, chosen = class_sampling_weights("1=3,2=0.5", toy_data)
    assert chosen == {"1": 3.0, "2": 0.5}
    assert torch.equal(weights, torch.tensor([{1: 3.0, 2: 0.5}.get(int(c), 1.0) for c in toy_data.labels]))
    assert class_sampling_weights(None, toy_data) == (None, {})
    for bad in ("1", "x=2", "4=1", "-1=1", "1=0", "1=nan", "1=inf", "1=101"):
        with pytest.raises(ValueError, match=r"expected CLASS=W with CLASS in 0\.\.3 and 0 < W <= 100"):
            class_sampling_weights(bad, toy_data)
    unlabelled = ImageDataset(toy_data.images, None, "folder:mine")
    with pytest.raises(ValueError, match="needs a labelled dataset; folder:mine has no labels"):
        class_sampling_weights("1=2", unlabelled)


def test_cli_trains_a_gan_stage_with_both_and_records_them(tmp_path, capsys, monkeypatch, aigc_typed):
    monkeypatch.chdir(tmp_path)

    aigc = aigc_typed

    assert aigc("train", "classifier", "--dry-run", "--quiet", "--out", "c", "--save", "c.safetensors") == 0
    assert aigc("train", "gan", "--dry-run", "--quiet", "--out", "first") == 0
    stage2 = ["train", "gan", "--dry-run", "--quiet", "--init", "first/gan.safetensors", "--out", "two"]
    assert aigc(*stage2, "--perceptual", "c.safetensors", "--class-weights", "2=1.5", "--save", "g.safetensors") == 0
    _, rec, _ = read_checkpoint(tmp_path / "g.safetensors")
    assert rec.training["config"]["perceptual_weight"] == 3.0  # the GAN's default weight
    assert rec.training["perceptual_network"]["weight"] == 3.0
    assert rec.training["class_weights"] == {"2": 1.5}
    assert "nearest" in rec.training["final_losses"]
    card = (tmp_path / "g.md").read_text()
    assert "--class-weights 2=1.5" in card and "stage 2's perceptual network" in card
    capsys.readouterr()
    assert aigc("train", "gan", "--dry-run", "--quiet", "--out", "bad", "--class-weights", "9=2") == 2
    assert "--class-weights '9=2'" in capsys.readouterr().err
