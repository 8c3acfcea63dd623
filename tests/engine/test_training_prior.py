"""A GAN trained on a latent prior: its generator's training z come from the prior's mixture, not N(0, I).

Why it exists: a fine-tune towards a taste trained the generator on N(0, I) while the child then sampled only the
tilted region, so every z had to learn the taste and realism fell; the prior's z keep training where the child draws.
"""

from __future__ import annotations

import pytest
import torch

from aigc.models import GAN, GANConfig
from aigc.training.loop import TrainConfig, train
from aigc.training.objectives import GANObjective, StepInput, objective_options

DIM = 8
FAR = {"weights": [1.0], "means": [[4.0] * DIM], "scale": 0.01}  # one centre far from N(0, I)'s mass


def seen_latents(gan: GAN) -> list[torch.Tensor]:
    """Every z the generator is called on, recorded by a forward pre-hook."""
    seen: list[torch.Tensor] = []
    gan.generator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


@pytest.mark.parametrize("prior", [None, FAR])
def test_the_generator_trains_on_the_priors_latents(toy_data, prior):
    torch.manual_seed(0)
    gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=DIM))
    seen = seen_latents(gan)
    objective = GANObjective(gan, 2e-4, (0.5, 0.999), torch.device("cpu"), latent_prior=prior)
    objective.step(StepInput(toy_data.images[:64], None, None, torch.Generator().manual_seed(0)))
    z = torch.cat(seen)
    if prior is None:
        assert abs(z.mean().item()) < 0.2 and 0.8 < z.std().item() < 1.2
    else:
        assert torch.allclose(z, torch.full_like(z, 4.0), atol=0.1)


def test_a_step_of_the_same_seed_draws_the_same_latents(toy_data):
    draws = []
    for _ in range(2):
        gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=DIM))
        seen = seen_latents(gan)
        prior = {"weights": [0.5, 0.5], "means": [[-2.0] * DIM, [2.0] * DIM], "scale": 0.3}
        GANObjective(gan, 2e-4, (0.5, 0.999), torch.device("cpu"), latent_prior=prior).step(
            StepInput(toy_data.images[:64], None, None, torch.Generator().manual_seed(7))
        )
        draws.append(seen[0])
    assert torch.equal(draws[0], draws[1])
    assert (draws[0].mean(1) < 0).any() and (draws[0].mean(1) > 0).any()  # both components drawn


def test_a_training_prior_is_refused_for_a_model_without_a_generator():
    with pytest.raises(ValueError, match="generator"):
        objective_options("vae", 0.0, None, 0.0, latent_prior=FAR)


def test_a_run_passes_its_configs_prior_to_the_generator(toy_data, tmp_path):
    from aigc.models.checkpoint import CheckpointRecord

    gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=DIM))
    seen = seen_latents(gan)
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"), steps=3, batch_size=16, progress=False, sample_every=0, latent_prior=FAR
    )
    train(gan, toy_data, cfg, CheckpointRecord(kind="gan", config={}, name="toy", dataset="toy"))
    trained = [z for z in seen if z.shape[0] == 16]  # the steps' batches (a grid or a recalibration would be 64+)
    assert len(trained) >= 3
    assert all(torch.allclose(z, torch.full_like(z, 4.0), atol=0.1) for z in trained)
