"""Latent helpers: seeded draws, truncation, slerp, GAN directions, taste directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.feedback.taste import taste_direction
from aigc.models.checkpoint import CheckpointRecord
from aigc.models.latent import gan_directions, interpolation_path, seeded_latents, slerp, vae_dimension_kl
from aigc.models.pipeline import ImageModel


def test_seeded_latents_are_reproducible_and_seed_specific():
    a = seeded_latents(7, 5, 16)
    assert a.shape == (5, 16) and a.dtype == torch.float32
    assert torch.equal(a, seeded_latents(7, 5, 16))
    assert not torch.equal(a, seeded_latents(8, 5, 16))
    torch.manual_seed(0)
    x = seeded_latents(7, 5, 16)
    torch.manual_seed(1)
    assert torch.equal(x, seeded_latents(7, 5, 16))  # the global RNG plays no part
    assert torch.equal(seeded_latents(2**63 + 7, 5, 16), a)  # huge seeds wrap instead of failing


@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
def test_truncation_bounds(t):
    z = seeded_latents(3, 2000, 8, truncation=t)
    assert z.abs().max().item() <= t
    assert z.std().item() < seeded_latents(3, 2000, 8).std().item()
    assert z.abs().max().item() > 0.9 * t  # resampled, not collapsed to zero
    assert torch.equal(z, seeded_latents(3, 2000, 8, truncation=t))


def test_slerp_endpoints_and_norm():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(32)
    b = rng.standard_normal(32)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, rtol=1e-5, atol=1e-6)
    for t in (0.25, 0.5, 0.75):
        mid = slerp(a, b, t)
        assert np.linalg.norm(mid) == pytest.approx(np.linalg.norm(a), rel=1e-5)  # slerp keeps the norm…
        assert np.linalg.norm((1 - t) * a + t * b) < 0.95 * np.linalg.norm(a)  # …which lerp loses
    np.testing.assert_allclose(slerp(a, a, 0.3), a, rtol=1e-5)  # parallel: no division by zero
    path = interpolation_path(a.astype(np.float32), b.astype(np.float32), 5)
    assert path.shape == (5, 32)
    np.testing.assert_allclose(path[0], a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, rtol=1e-5, atol=1e-6)


def test_gan_directions_orthonormal_and_sorted(tiny_model):
    gan = tiny_model("gan")
    dirs, var = gan_directions(gan.generator, k=6)
    assert dirs.shape == (6, gan.latent_dim) and var.shape == (6,)
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(6), atol=1e-5)
    assert np.all(np.diff(var) <= 0) and var.sum() <= 1.0 + 1e-6 and var[0] > 0
    # the first direction moves the first layer the most: ‖W d₁‖ ≥ ‖W v‖ for random unit v
    w = gan.generator.stem[0].weight.detach().double().numpy()
    top = np.linalg.norm(w @ dirs[0])
    rand = np.random.default_rng(0).standard_normal((50, gan.latent_dim))
    rand /= np.linalg.norm(rand, axis=1, keepdims=True)
    assert top >= np.linalg.norm(w @ rand.T, axis=0).max()
    full, var_all = gan_directions(gan.generator, k=1000)
    assert full.shape == (gan.latent_dim, gan.latent_dim) and var_all.sum() == pytest.approx(1.0, abs=1e-5)


def test_taste_direction_separates_a_toy_dataset():
    rng = np.random.default_rng(0)
    truth = np.zeros(8)
    truth[2], truth[5] = 0.6, -0.8
    z = rng.standard_normal((300, 8))
    scores = np.where(z @ truth > 0, 1.0, -1.0)
    d = taste_direction(z, scores)
    assert d is not None and d.shape == (8,)
    assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-5)
    assert float(d @ truth) > 0.9  # points from disliked towards liked
    accuracy = ((z @ d > 0) == (scores > 0)).mean()
    assert accuracy > 0.95


def test_taste_direction_is_none_for_one_sided_ratings():
    z = np.random.default_rng(1).standard_normal((20, 4))
    assert taste_direction(z, np.ones(20)) is None
    assert taste_direction(z, -np.ones(20)) is None


def test_vae_dimension_kl_and_pipeline_truncation(tiny_model):
    vae = tiny_model("vae").eval()
    kl = vae_dimension_kl(vae, torch.rand(10, 1, 28, 28) * 2 - 1, batch=4)
    assert kl.shape == (vae.latent_dim,) and (kl >= 0).all()
    model = ImageModel(vae, CheckpointRecord("vae", {}), device="cpu")
    z = model.latents(4, seed=5, truncation=0.5)
    assert np.abs(z).max() <= 0.5
    np.testing.assert_array_equal(model.sample(4, seed=5, truncation=0.5), model.decode(z))
    with pytest.raises(ValueError, match="latents must have shape"):
        model.decode(np.zeros((2, vae.latent_dim + 1), np.float32))
