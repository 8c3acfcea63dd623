"""The GAN's averaged generator: it trails the live weights, survives a resume, and is what a run ships."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aigc.models import GAN, GANConfig
from aigc.training.loop import TrainConfig, train
from aigc.training.objectives import GeneratorAverage, recalibrate_batchnorm


def cfg(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / name), steps=12, batch_size=32, progress=False, sample_every=0, log_every=10)
    return TrainConfig(**{**base, **kw})


def test_average_trails_the_live_weights_and_forgets_the_start_quickly():
    live = nn.Linear(3, 2)
    avg = GeneratorAverage(live, decay=0.9)
    start = avg.average.weight.detach().clone()
    with torch.no_grad():
        live.weight.add_(1.0)
    avg.update(live)  # warm-up decay (1+1)/(10+1) ≈ 0.18: mostly the new weights already
    moved = avg.average.weight - start
    assert torch.all(moved > 0.7) and torch.all(moved < 1.0)
    for _ in range(200):
        avg.update(live)
    assert torch.allclose(avg.average.weight, live.weight, atol=1e-4)


def test_average_is_not_the_last_weights_after_noisy_updates():
    torch.manual_seed(0)
    live = nn.Linear(4, 4)
    avg = GeneratorAverage(live, decay=0.99)
    centre = live.weight.detach().clone()
    for _ in range(300):
        with torch.no_grad():
            live.weight.copy_(centre + 0.5 * torch.randn_like(centre))
        avg.update(live)
    # the average sits near the centre the noisy weights oscillate around, far closer than the last draw
    assert (avg.average.weight - centre).abs().mean() < 0.3 * (live.weight - centre).abs().mean()


def test_bad_decay_is_refused():
    for bad in (0.0, 1.0, -0.5, 2.0):
        try:
            GeneratorAverage(nn.Linear(1, 1), bad)
        except ValueError as exc:
            assert "decay" in str(exc)
        else:
            raise AssertionError(f"decay {bad} accepted")


def test_recalibrated_batchnorm_matches_the_generators_own_activation_statistics():
    torch.manual_seed(1)
    gan = GAN(GANConfig(g_width=8, d_width=8, latent_dim=8))
    g = gan.generator
    bn = g.stem[2]
    bn.running_mean.fill_(5.0)  # statistics of some other network
    recalibrate_batchnorm(g, 8, seed=0, batches=20, batch=128)
    with torch.no_grad():
        pre = g.stem[1](g.stem[0](torch.randn(4096, 8)))  # the activations that BatchNorm sees
    assert torch.allclose(bn.running_mean, pre.mean(dim=(0, 2, 3)), atol=0.05)
    assert not g.training or bn.momentum == 0.1  # momentum restored


def test_a_run_with_ema_ships_the_average_not_the_last_weights(tmp_path, toy_data, record):
    torch.manual_seed(0)
    plain, averaged = GAN(GANConfig(g_width=8, d_width=8, latent_dim=8)), None
    averaged = GAN(GANConfig(g_width=8, d_width=8, latent_dim=8))
    averaged.load_state_dict(plain.state_dict())
    train(plain, toy_data, cfg(tmp_path, "plain"), record("gan"))
    train(averaged, toy_data, cfg(tmp_path, "ema", ema_decay=0.9), record("gan"))
    # same data, noise and steps: the discriminators agree exactly, the generators do not
    for (k, a), b in zip(plain.discriminator.state_dict().items(), averaged.discriminator.state_dict().values()):
        assert torch.equal(a, b), k
    differs = [not torch.equal(a, b) for a, b in zip(plain.generator.parameters(), averaged.generator.parameters())]
    assert all(differs)


@pytest.mark.heavy
def test_resume_with_ema_matches_an_uninterrupted_run(tmp_path, toy_data, record):
    def fresh(seed):
        torch.manual_seed(seed)
        return GAN(GANConfig(g_width=8, d_width=8, latent_dim=8))

    full = fresh(0)
    train(full, toy_data, cfg(tmp_path, "full", ema_decay=0.9), record("gan"))
    calls = {"n": 0}

    def stop_after_5():
        calls["n"] += 1
        return calls["n"] > 5

    part = fresh(0)
    first = train(part, toy_data, cfg(tmp_path, "part", ema_decay=0.9), record("gan"), should_stop=stop_after_5)
    assert first.interrupted
    resumed = fresh(99)
    train(resumed, toy_data, cfg(tmp_path, "part", ema_decay=0.9, resume=True), record("gan"))
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
