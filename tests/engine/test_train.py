"""The one training loop: losses go down, weights steer it (sampler or loss), interrupted runs resume exactly."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from aigc.data.datasets import ImageDataset
from aigc.models.checkpoint import CheckpointError, load_module
from aigc.training.loop import BatchPlan, TrainConfig, train


def cfg(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / name), steps=30, batch_size=32, progress=False, sample_every=0, log_every=10)
    return TrainConfig(**{**base, **kw})


def vae_recon_error(vae, images: torch.Tensor) -> torch.Tensor:
    """(N,) deterministic reconstruction error (decode the posterior mean), in eval mode."""
    vae.eval()
    with torch.no_grad():
        mu, _ = vae.encode(images)
        logits = vae.decoder(mu)
        return F.binary_cross_entropy_with_logits(logits, (images + 1) / 2, reduction="none").flatten(1).sum(1)


def gan_d_loss(gan, images: torch.Tensor, z: torch.Tensor) -> float:
    gan.eval()
    with torch.no_grad():
        real, fake = gan.discriminator(images), gan.discriminator(gan.generator(z))
        return (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        ).item()


def test_vae_training_lowers_the_loss(tmp_path, tiny_model, toy_data, record):
    vae = tiny_model("vae")
    before = vae_recon_error(vae, toy_data.images).mean().item()
    result = train(vae, toy_data, cfg(tmp_path), record("vae"))
    after = vae_recon_error(vae, toy_data.images).mean().item()
    assert after < 0.9 * before, (before, after)
    assert result.steps == 30 and not result.interrupted and result.images_per_s > 0
    assert set(result.final_losses) == {"loss", "recon", "kl"}
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert not (tmp_path / "run" / "last.safetensors").exists()  # a finished run leaves no resume file


def test_gan_training_lowers_the_discriminator_loss_and_moves_the_generator(tmp_path, tiny_model, toy_data, record):
    gan = tiny_model("gan")
    z = torch.randn(64, gan.latent_dim, generator=torch.Generator().manual_seed(5))
    d_before = gan_d_loss(gan, toy_data.images, z)
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    result = train(gan, toy_data, cfg(tmp_path, sample_every=10), record("gan"))
    assert gan_d_loss(gan, toy_data.images, z) < d_before - 0.1
    assert any(not torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters()))
    assert set(result.final_losses) == {"loss_d", "loss_g", "d_real"}
    grids = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert grids == ["step_000010.png", "step_000020.png", "step_000030.png"]


def test_classifier_training_learns_toy_classes(tmp_path, tiny_model, toy_data, record):
    clf = tiny_model("classifier")
    train(clf, toy_data, cfg(tmp_path, steps=40), record("classifier"))
    with torch.no_grad():
        acc = (clf.eval()(toy_data.images).argmax(1) == toy_data.labels).float().mean().item()
    assert acc > 0.6


# ---------------------------------------------------------------- weights


def test_batch_plan_never_draws_zero_weight_examples():
    weights = torch.ones(100)
    weights[::2] = 0.0
    plan = BatchPlan(100, 16, seed=0, weights=weights, weighting="sampler")
    drawn = torch.cat([plan.indices(s) for s in range(200)])
    assert drawn.shape == (3200,)
    assert (drawn % 2 == 1).all()
    assert set(drawn.tolist()) == set(range(1, 100, 2))  # and every positive-weight example does come up


def test_batch_plan_draws_in_proportion_to_weights():
    weights = torch.tensor([1.0, 3.0])
    plan = BatchPlan(2, 2, seed=1, weights=weights, weighting="sampler")
    drawn = torch.cat([plan.indices(s) for s in range(2000)])
    assert 0.70 < drawn.float().mean().item() < 0.80  # P(index 1) = 0.75


def test_batch_plan_uniform_epochs_are_permutations_and_loss_weighting_draws_everything():
    for plan in (BatchPlan(64, 16, 0, None, "sampler"), BatchPlan(64, 16, 0, torch.rand(64), "loss")):
        for epoch in range(3):
            seen = torch.cat([plan.indices(epoch * 4 + s) for s in range(4)])
            assert sorted(seen.tolist()) == list(range(64))
        assert not torch.equal(plan.indices(0), plan.indices(4))  # a new order each epoch
    assert torch.equal(
        BatchPlan(64, 16, 0, None, "sampler").indices(5), BatchPlan(64, 16, 0, None, "sampler").indices(5)
    )


def test_sampler_weights_keep_excluded_examples_out_of_training(tmp_path, tiny_model, toy_data, record):
    """Poison half the data with NaN: zero sampler weight on it → training never sees it; uniform → it blows up."""
    poisoned = ImageDataset(toy_data.images.clone(), toy_data.labels, "poisoned")
    poisoned.images[::2] = float("nan")
    weights = torch.ones(len(poisoned))
    weights[::2] = 0.0
    vae = tiny_model("vae")
    result = train(vae, poisoned, cfg(tmp_path, "w", steps=10), record("vae"), weights=weights)
    assert all(torch.isfinite(p).all() for p in vae.parameters()) and result.steps == 10
    with pytest.raises(FloatingPointError, match="non-finite"):
        train(tiny_model("vae"), poisoned, cfg(tmp_path, "u", steps=10), record("vae"))


@pytest.mark.parametrize("weighting", ["sampler", "loss"])
@pytest.mark.parametrize("favoured", [0, 3])
def test_vae_weights_favour_the_weighted_class(tmp_path, tiny_model, toy_data, record, weighting, favoured):
    weights = (toy_data.labels == favoured).float()
    vae = tiny_model("vae")
    train(vae, toy_data, cfg(tmp_path, steps=60, weighting=weighting), record("vae"), weights=weights)
    err = vae_recon_error(vae, toy_data.images)
    per_class = [err[toy_data.labels == c].mean().item() for c in range(4)]
    others = [e for c, e in enumerate(per_class) if c != favoured]
    assert per_class[favoured] < 0.85 * min(others), per_class


@pytest.mark.parametrize("weighting", ["sampler", "loss"])
def test_gan_weights_shape_what_the_discriminator_calls_real(tmp_path, tiny_model, toy_data, record, weighting):
    weights = (toy_data.labels == 2).float()
    gan = tiny_model("gan")
    train(gan, toy_data, cfg(tmp_path, weighting=weighting), record("gan"), weights=weights)
    with torch.no_grad():
        logits = gan.eval().discriminator(toy_data.images)
    per_class = [logits[toy_data.labels == c].mean().item() for c in range(4)]
    assert per_class[2] > max(c for i, c in enumerate(per_class) if i != 2) + 0.2, per_class


@pytest.mark.parametrize("bad", [torch.ones(5), -torch.ones(128), torch.full((128,), float("nan")), torch.zeros(128)])
def test_invalid_weights_are_refused(tmp_path, tiny_model, toy_data, record, bad):
    with pytest.raises(ValueError, match="weights must be 128"):
        train(tiny_model("vae"), toy_data, cfg(tmp_path, steps=1), record("vae"), weights=bad)


# ---------------------------------------------------------------- interruption and resume


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, tiny_model, toy_data, record, kind):
    n_steps, stop_at = 12, 5  # 4 steps per epoch (128 / 32): the stop and the resume cross epoch boundaries
    weights = torch.linspace(0.2, 2.0, len(toy_data)) if kind == "gan" else None
    full = tiny_model(kind)
    train(full, toy_data, cfg(tmp_path, "full", steps=n_steps), record(kind), weights=weights)

    calls = {"n": 0}

    def stop_after_k():
        calls["n"] += 1
        return calls["n"] > stop_at

    part = tiny_model(kind)
    first = train(
        part, toy_data, cfg(tmp_path, "part", steps=n_steps), record(kind), weights=weights, should_stop=stop_after_k
    )
    assert first.interrupted and first.steps == stop_at
    last = tmp_path / "part" / "last.safetensors"
    assert last.exists()
    saved, _ = load_module(last)  # the resume file also loads as a plain model
    for (k, a), b in zip(part.state_dict().items(), saved.state_dict().values()):
        assert torch.equal(a, b), k

    resumed = tiny_model(kind, seed=123)  # different init: everything must come from the resume file
    second = train(resumed, toy_data, cfg(tmp_path, "part", steps=n_steps, resume=True), record(kind), weights=None)
    assert second.steps == n_steps and not second.interrupted
    assert not last.exists()
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    steps_logged = [json.loads(line)["step"] for line in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert steps_logged == [10, 12]


def test_periodic_checkpoint_is_written(tmp_path, tiny_model, toy_data, record):
    seen = []
    last = tmp_path / "run" / "last.safetensors"
    train(
        tiny_model("vae"),
        toy_data,
        cfg(tmp_path, steps=6, checkpoint_every=3),
        record("vae"),
        on_progress=lambda done, total, losses: seen.append((done, total, last.exists())),
    )
    assert [s[:2] for s in seen] == [(i, 6) for i in range(1, 7)]
    assert [s[2] for s in seen] == [False, False, False, True, True, True]


def test_resume_without_an_interrupted_run_names_the_file(tmp_path, tiny_model, toy_data, record):
    with pytest.raises(CheckpointError, match="nothing to resume from") as err:
        train(tiny_model("vae"), toy_data, cfg(tmp_path, resume=True), record("vae"))
    assert str(tmp_path / "run" / "last.safetensors") in str(err.value)


def test_resume_into_a_different_model_is_refused(tmp_path, tiny_model, toy_data, record):
    train(tiny_model("vae"), toy_data, cfg(tmp_path, steps=4), record("vae"), should_stop=lambda: True)
    assert (tmp_path / "run" / "last.safetensors").exists()
    with pytest.raises(CheckpointError, match="does not match"):
        train(tiny_model("gan"), toy_data, cfg(tmp_path, steps=4, resume=True), record("gan"))


def test_ctrl_c_between_steps_resumes_exactly(tmp_path, tiny_model, toy_data, record):
    """Ctrl-C after a step has been applied (here: in the progress callback) must not replay that step."""
    full = tiny_model("gan")
    train(full, toy_data, cfg(tmp_path, "full", steps=8), record("gan"))

    def ctrl_c_after_step_3(done, total, losses):
        if done == 3:
            raise KeyboardInterrupt

    part = tiny_model("gan")
    first = train(part, toy_data, cfg(tmp_path, "part", steps=8), record("gan"), on_progress=ctrl_c_after_step_3)
    assert first.interrupted and first.steps == 3
    resumed = tiny_model("gan", seed=5)
    train(resumed, toy_data, cfg(tmp_path, "part", steps=8, resume=True), record("gan"))
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
