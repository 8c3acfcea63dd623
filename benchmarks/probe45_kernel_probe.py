# ruff: noqa
"""Offline: the VAE tilt's picks → kernel mixture samples decoded by the parent; kernel shapes compared."""

import json, sys, time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np, torch

torch.set_num_threads(2)
from feedback_loop import MAX_RATINGS, QUALITY_FIGURES, fashion_reference, quality_targets, tastes
from rating_pages import random_pages, round_seed
from tilt_offline import realism_eligible
from aigc.evaluation.metrics import fid, precision, recall
from aigc.evaluation.raters import LIKED_RATE_TARGET
from aigc.feedback.features import reward_features
from aigc.feedback.latent_prior import TiltConfig, draw_for_tilt, tilt_picks
from aigc.feedback.reward import fit_reward
from aigc.models.pipeline import load_model

name = sys.argv[1] if len(sys.argv) > 1 else "fashion-vae"
taste_arg = sys.argv[2] if len(sys.argv) > 2 else "tuning,held-out"
seeds = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "0,100000").split(",")]
K = 8
ref = fashion_reference()
model = load_model(name)
rf = reward_features(model)
cfg = TiltConfig()
drawn = draw_for_tilt(model, cfg.draws, cfg.seed)
z_all = np.asarray(drawn.latents, np.float64)
spread = float(np.sqrt(z_all.var(0).mean()))
feats = rf.compute(drawn.images)
judged_draws = ref.embed(drawn.images).float()
eligible = realism_eligible(model, drawn.images, "score", 0.85)
parent_precision = round(precision(ref.feats, judged_draws[:1000], real_radius=ref.radius), 4)


def variants(centres, weights, rng):
    n = 1000
    comp = rng.choice(len(centres), size=n, p=weights)
    eps = rng.standard_normal((n, centres.shape[1]))
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1) if len(centres) <= 5000 else None
    np.fill_diagonal(d2, np.inf)
    nbrs = np.argsort(d2, 1)[:, :K]
    out = {}
    for k in (0.3, 0.2, 0.15):
        out[f"iso{k}"] = centres[comp] + k * spread * eps
    # local covariance: Gaussian over the K neighbour differences, matched to iso 0.3 total variance or half
    diffs = centres[nbrs[comp]] - centres[comp][:, None, :]  # (n, K, D)
    a = rng.standard_normal((n, K))
    local = np.einsum("nk,nkd->nd", a, diffs) / np.sqrt(K)
    iso_norm = 0.3 * spread * np.sqrt(centres.shape[1])
    ln = np.sqrt((local**2).sum(1)).mean()
    for f in (1.0, 0.5):
        out[f"local{f}"] = centres[comp] + local * (f * iso_norm / ln)
    t = rng.uniform(0, 0.5, n)
    j = nbrs[comp, rng.integers(0, K, n)]
    out["interp+iso0.1"] = centres[comp] + t[:, None] * (centres[j] - centres[comp]) + 0.1 * spread * eps
    return out


for rater in tastes(taste_arg, "1,5,7"):
    rater = rater.calibrate(ref.images, ref.classes)
    liked_real = ref.liked(rater)
    parent_fid = round(fid(liked_real, judged_draws[:1000]), 2)
    for seed in seeds:
        first = round_seed(seed, 1)
        rated = np.concatenate([model.sample(n, s) for n, s in random_pages(MAX_RATINGS, first)])
        reward = fit_reward(rf.compute(rated), rater.rate(rated), seed=0, blocks=rf.blocks)
        picks, _, beta = tilt_picks(reward.predict(feats), cfg, eligible)
        ids, counts = np.unique(picks, return_counts=True)
        centres, weights = z_all[ids], counts / counts.sum()
        rng = np.random.default_rng(seed + 1)
        for vname, z in variants(centres, weights, rng).items():
            imgs = model.decode(z.astype(np.float32))
            j = ref.embed(imgs).float()
            row = {
                "model": name,
                "taste": rater.name,
                "seed": seed,
                "variant": vname,
                "beta": beta,
                "liked_rate": round(float(rater.likes(imgs).mean()), 4),
                "recall_liked": round(recall(liked_real, j), 4),
                "precision_all": round(precision(ref.feats, j, real_radius=ref.radius), 4),
                "fid_liked": round(fid(liked_real, j), 2),
            }
            met = quality_targets(
                {k: row[k] for k in QUALITY_FIGURES},
                {"precision_all": parent_precision, "fid_liked": parent_fid},
                LIKED_RATE_TARGET[rater.kind],
            )
            row["met"] = met
            row["all4"] = all(met[k] for k in ("liked_rate", "recall_liked", "precision_all", "fid_liked"))
            print(json.dumps(row), flush=True)
