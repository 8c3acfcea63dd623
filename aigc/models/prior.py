"""Fitted latent priors: where a fine-tuned VAE draws z from instead of N(0, I).

After a reweighted fine-tune the encoder no longer maps the data onto N(0, I) (and with a KL
weight below 1 it is not asked to). Sampling from a density fitted to the aggregate posterior of
the reweighted data draws from where the encoder actually puts what was liked: "ex-post density
estimation" (Ghosh et al. 2020), who fit a 10-component Gaussian mixture, as we do. One Gaussian
spreads mass over the gaps between the liked classes, which decode to neither.

The prior lives in the checkpoint record as plain lists, so a seed gives the same z forever:
    {"weights": [K], "means": [K][D], "scale_trils": [K][D][D]}
or, for a kernel mixture of many small isotropic components (`aigc.feedback.latent_prior`'s tilt):
    {"weights": [K], "means": [K][D], "scale": s}
(the older single-Gaussian form {"mean": [D], "scale_tril": [D][D]} still loads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aigc.models.batched import infer
from aigc.models.vae import VAE


def fit_gmm(
    x: np.ndarray, k: int, extra_cov: np.ndarray | None = None, seed: int = 0, iters: int = 100, reg: float = 1e-4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM for a full-covariance Gaussian mixture on (N, D) points: (weights (K,), means (K, D), covs (K, D, D)).

    extra_cov: (N, D) per-point variances added to each component's covariance (a posterior's own
    spread around its mean). k-means++ seeding; `reg` keeps every covariance invertible.
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(k - 1):  # k-means++: far points are likelier centres
        dist = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(n, p=dist / dist.sum())] if dist.sum() > 0 else x[rng.integers(n)])
    means = np.stack(centres)
    covs = np.repeat(np.cov(x.T).reshape(1, d, d) + reg * np.eye(d), k, axis=0)
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(iters):
        log_p = _component_log_density(x, means, covs) + np.log(weights)  # (N, K)
        top = log_p.max(1, keepdims=True)
        log_norm = top + np.log(np.exp(log_p - top).sum(1, keepdims=True))
        resp = np.exp(log_p - log_norm)  # (N, K) responsibilities
        mass = resp.sum(0) + 1e-10
        weights = mass / n
        means = (resp.T @ x) / mass[:, None]
        for j in range(k):
            centred = x - means[j]
            covs[j] = (resp[:, j, None] * centred).T @ centred / mass[j] + reg * np.eye(d)
        likelihood = float(log_norm.mean())
        if likelihood - previous < 1e-6:
            break
        previous = likelihood
    if extra_cov is not None:
        spread = (resp.T @ np.asarray(extra_cov, np.float64)) / mass[:, None]  # (K, D) mean posterior variance
        covs = covs + np.stack([np.diag(s) for s in spread])
    return weights, means, covs


def _component_log_density(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """(N, K) log N(x | mean_k, cov_k). Whitening by each inverse Cholesky factor (D × D, tiny) is one matrix
    product per component: a third of the time of a general solve against the factor, EM's inner step."""
    out = np.empty((x.shape[0], means.shape[0]))
    d = x.shape[1]
    chols = np.linalg.cholesky(covs)  # (K, D, D)
    whiten = np.linalg.inv(chols)
    log_dets = np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(1)
    for j in range(len(means)):
        solved = (x - means[j]) @ whiten[j].T  # (N, D)
        out[:, j] = -0.5 * np.einsum("nd,nd->n", solved, solved) - log_dets[j] - 0.5 * d * np.log(2 * np.pi)
    return out


def aggregate_posterior(
    model: VAE,
    images: torch.Tensor,
    components: int = 10,
    seed: int = 0,
    batch: int = 512,
    labels: torch.Tensor | None = None,
    spread: float = 1.0,
    iters: int = 100,
) -> dict:
    """A Gaussian mixture fitted to a VAE's aggregate posterior over `images`, as a checkpoint-ready dict.

    labels: when the images have classes, the mixture is fitted class by class (components // classes
    each) and each class keeps its share of the images as its weight. One EM over all classes lets a
    big, spread-out class claim most components and starve a compact one: its samples then drift
    towards the neighbours, and the class histogram of the samples drifts with them.

    spread: every component's scale times this. A decoder trained by reconstruction averages what it
    cannot tell apart, so draws at the fitted scale come out more alike than real images are (low
    recall); a somewhat wider draw restores variety at a small cost in realism. 1.0: as fitted.
    iters: EM's cap (`fit_gmm`); it stops earlier once the likelihood settles.
    """
    if not 0.1 <= spread <= 4.0:
        raise ValueError(f"the prior's spread must be between 0.1 and 4, got {spread}")

    def posterior(chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = model.encode(chunk)
        return mu.double().cpu(), logvar.exp().double().cpu()

    mus, variances = zip(*infer(posterior, images, batch))
    mu_all, var_all = torch.cat(mus).numpy(), torch.cat(variances).numpy()
    if labels is None:
        weights, means, covs = fit_gmm(mu_all, components, var_all, seed=seed, iters=iters)
    else:
        label_array = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        classes = np.unique(label_array)
        per_class = max(1, components // len(classes))
        parts = []
        for c in classes:
            rows = label_array == c
            w, m, v = fit_gmm(mu_all[rows], per_class, var_all[rows], seed=seed, iters=iters)
            parts.append((w * rows.mean(), m, v))
        weights = np.concatenate([p[0] for p in parts])
        means = np.concatenate([p[1] for p in parts])
        covs = np.concatenate([p[2] for p in parts])
        weights = weights / weights.sum()
    chols = np.linalg.cholesky(covs + 1e-6 * np.eye(covs.shape[1])) * spread
    return {
        "weights": [round(float(w), 6) for w in weights],
        "means": [[round(float(v), 6) for v in m] for m in means],
        "scale_trils": [[[round(float(v), 6) for v in row] for row in c] for c in chols],
    }


@dataclass(frozen=True)
class MixturePrior:
    """A fitted prior as arrays, parsed once from its checkpoint record (sampling runs on every request)."""

    cumulative: np.ndarray  # (K,) cumulative component weights, last = 1
    means: np.ndarray  # (K, D)
    chols: np.ndarray | None  # (K, D, D); None for a kernel mixture (one isotropic `scale` for all)
    scale: float = 1.0

    @classmethod
    def from_record(cls, prior: dict | None) -> MixturePrior | None:
        if not prior:
            return None
        if "mean" in prior:  # single Gaussian (checkpoints written before mixtures): one component
            prior = {"weights": [1.0], "means": [prior["mean"]], "scale_trils": [prior["scale_tril"]]}
        weights = np.asarray(prior["weights"], np.float64)
        cumulative, means = np.cumsum(weights / weights.sum()), np.asarray(prior["means"], np.float32)
        if "scale" in prior:
            return cls(cumulative, means, None, float(prior["scale"]))
        return cls(cumulative, means, np.asarray(prior["scale_trils"], np.float32))

    def sample(self, eps: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """z = mean_c + L_c·ε, with component c picked by `uniform` (N,) in [0, 1): row i depends on row i only."""
        comp = np.minimum(np.searchsorted(self.cumulative, uniform, side="right"), len(self.cumulative) - 1)
        if self.chols is None:
            return (self.means[comp] + self.scale * eps).astype(np.float32)
        return (self.means[comp] + np.einsum("nij,nj->ni", self.chols[comp], eps)).astype(np.float32)
