import numpy as np
import pytest
import torch

from aigc.models.latent import seeded_latents, seeded_uniform
from aigc.models.prior import MixturePrior, fit_gmm


def sample_prior(prior: dict, eps: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """What ImageModel.latents does with a checkpoint's prior record."""
    return MixturePrior.from_record(prior).sample(eps, uniform)


def three_clusters(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    label = rng.integers(0, 3, n)
    return centres[label] + rng.normal(0, 0.5, (n, 2)), centres


def test_gmm_finds_separated_clusters_and_their_spread():
    x, centres = three_clusters()
    weights, means, covs = fit_gmm(x, 3, seed=1)
    order = np.argsort(means[:, 0] + 0.1 * means[:, 1])
    assert np.allclose(means[order], centres, atol=0.15)
    assert np.allclose(weights, 1 / 3, atol=0.05)
    assert np.allclose([np.diag(c) for c in covs], 0.25, atol=0.05)


def test_extra_posterior_variance_widens_components():
    x, _ = three_clusters()
    _, _, plain = fit_gmm(x, 3, seed=1)
    _, _, wider = fit_gmm(x, 3, extra_cov=np.full_like(x, 0.5), seed=1)
    assert np.allclose([np.diag(w) - np.diag(p) for w, p in zip(wider, plain)], 0.5, atol=1e-6)


def mixture(x, k):
    weights, means, covs = fit_gmm(x, k, seed=1)
    return {"weights": weights.tolist(), "means": means.tolist(), "scale_trils": np.linalg.cholesky(covs).tolist()}


def test_mixture_samples_land_in_the_clusters_not_between_them():
    x, centres = three_clusters()
    prior = mixture(x, 3)
    z = sample_prior(prior, seeded_latents(5, 2000, 2).numpy(), seeded_uniform(5, 2000))
    nearest = np.min(np.linalg.norm(z[:, None] - centres[None], axis=2), axis=1)
    assert (nearest < 2.0).mean() > 0.99
    single = {"mean": x.mean(0).tolist(), "scale_tril": np.linalg.cholesky(np.cov(x.T)).tolist()}
    z1 = sample_prior(single, seeded_latents(5, 2000, 2).numpy(), seeded_uniform(5, 2000))
    assert (
        np.min(np.linalg.norm(z1[:, None] - centres[None], axis=2), axis=1) < 2.0
    ).mean() < 0.8  # one Gaussian fills the gaps


def test_same_seed_same_latents_and_each_row_depends_on_its_own_noise_only():
    x, _ = three_clusters()
    prior = mixture(x, 3)
    eps, u = seeded_latents(9, 8, 2).numpy(), seeded_uniform(9, 8)
    a = sample_prior(prior, eps, u)
    assert np.array_equal(a, sample_prior(prior, seeded_latents(9, 8, 2).numpy(), seeded_uniform(9, 8)))
    assert np.allclose(a[2:5], sample_prior(prior, eps[2:5], u[2:5]), atol=1e-6)
    assert not np.allclose(a, sample_prior(prior, seeded_latents(10, 8, 2).numpy(), seeded_uniform(10, 8)))


def test_one_component_is_the_fitted_gaussian():
    x, _ = three_clusters()
    weights, means, covs = fit_gmm(x, 1)
    assert weights == pytest.approx([1.0])
    assert np.allclose(means[0], x.mean(0)) and np.allclose(covs[0], np.cov(x.T, bias=True), atol=1e-3)


def test_class_by_class_fit_gives_each_class_its_share_and_its_own_components():
    from torch import nn

    from aigc.models.prior import aggregate_posterior

    class Identity(nn.Module):  # a "VAE" whose posterior mean is the input itself, with a tiny variance
        def encode(self, x):
            return x, torch.full_like(x, -10.0)

    rng = np.random.default_rng(0)
    spread = rng.normal([0, 0], 3.0, size=(900, 2))  # a big, spread-out class …
    compact = rng.normal([20, 20], 0.1, size=(100, 2))  # … beside a small, compact one
    points = torch.from_numpy(np.concatenate([spread, compact])).float()
    labels = torch.tensor([0] * 900 + [1] * 100)
    record = aggregate_posterior(Identity(), points, components=4, labels=labels)
    weights, means = np.array(record["weights"]), np.array(record["means"])
    assert len(weights) == 4 and abs(weights.sum() - 1) < 1e-5
    near_compact = np.linalg.norm(means - [20, 20], axis=1) < 1
    assert near_compact.sum() == 2  # half the components model the compact class
    assert abs(weights[near_compact].sum() - 0.1) < 1e-3  # which keeps its 10 % share


def test_kernel_mixture_samples_sit_near_their_centres_at_their_scale():
    centres = [[-5.0, 0.0], [5.0, 0.0]]
    prior = {"weights": [0.25, 0.75], "means": centres, "scale": 0.1}
    z = sample_prior(prior, seeded_latents(2, 4000, 2).numpy(), seeded_uniform(2, 4000))
    right = z[:, 0] > 0
    assert right.mean() == pytest.approx(0.75, abs=0.03)
    assert (z[right] - [5.0, 0.0]).std(0) == pytest.approx([0.1, 0.1], abs=0.01)
