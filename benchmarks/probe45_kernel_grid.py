# ruff: noqa
"""Offline: per run, the kernel grid's samples (parent decoder) graded by the judge beside self-checks the loop can make."""

import json, sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np, torch

torch.set_num_threads(2)
from feedback_loop import MAX_RATINGS, QUALITY_FIGURES, fashion_reference, quality_targets, tastes
from rating_pages import random_pages, round_seed
from aigc.evaluation.metrics import fid, precision, recall
from aigc.evaluation.raters import LIKED_RATE_TARGET
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.features import reward_features
from aigc.feedback.finetune_data import realism_score, training_set
from aigc.feedback.latent_prior import TiltConfig, draw_for_tilt, most_real, tilt_picks
from aigc.feedback.reward import fit_reward
from aigc.models.pipeline import load_model, models_dirs
from aigc.training.perceptual import inherited

name, taste_arg, seeds, grid = (
    sys.argv[1],
    sys.argv[2],
    [int(s) for s in sys.argv[3].split(",")],
    [float(k) for k in sys.argv[4].split(",")],
)
ref = fashion_reference()
model = load_model(name)
rf = reward_features(model)
cfg = TiltConfig()
drawn = draw_for_tilt(model, cfg.draws, cfg.seed)
z_all = np.asarray(drawn.latents, np.float64)
spread = float(np.sqrt(z_all.var(0).mean()))
feats = rf.compute(drawn.images)
judged_draws = ref.embed(drawn.images).float()
real, _, _ = training_set(model, FinetuneConfig(), None)
score = realism_score(inherited(model.record, models_dirs(None)), real)
looks = score(drawn.images)
eligible = most_real(looks, 0.85)
parent_precision = round(precision(ref.feats, judged_draws[:1000], real_radius=ref.radius), 4)
parent_proxy = float((looks[:1000] >= 1).mean())
print(
    json.dumps({"parent": name, "precision": parent_precision, "proxy_precision": parent_proxy, "spread": spread}),
    flush=True,
)
for rater in tastes(taste_arg, "1,5,7"):
    rater = rater.calibrate(ref.images, ref.classes)
    liked_real = ref.liked(rater)
    parent_fid = round(fid(liked_real, judged_draws[:1000]), 2)
    for seed in seeds:
        rated = np.concatenate([model.sample(n, s) for n, s in random_pages(MAX_RATINGS, round_seed(seed, 1))])
        reward = fit_reward(rf.compute(rated), rater.rate(rated), seed=0, blocks=rf.blocks)
        p_draws = reward.predict(feats)
        picks, _, beta = tilt_picks(p_draws, cfg, eligible)
        ids, counts = np.unique(picks, return_counts=True)
        centres, weights = z_all[ids], counts / counts.sum()
        rng = np.random.default_rng(seed + 1)
        comp = rng.choice(len(centres), size=1000, p=weights)
        eps = rng.standard_normal((1000, centres.shape[1]))
        for k in grid:
            imgs = model.decode((centres[comp] + k * spread * eps).astype(np.float32))
            j = ref.embed(imgs).float()
            row = {
                "model": name,
                "taste": rater.name,
                "seed": seed,
                "kernel": k,
                "beta": beta,
                "liked_rate": round(float(rater.likes(imgs).mean()), 4),
                "recall_liked": round(recall(liked_real, j), 4),
                "precision_all": round(precision(ref.feats, j, real_radius=ref.radius), 4),
                "fid_liked": round(fid(liked_real, j), 2),
                "proxy_precision": round(float((score(imgs) >= 1).mean()), 4),
                "proxy_liked": round(float(reward.predict(rf.compute(imgs)).mean()), 4),
                "centres_p": round(float(p_draws[picks].mean()), 4),
            }
            met = quality_targets(
                {q: row[q] for q in QUALITY_FIGURES},
                {"precision_all": parent_precision, "fid_liked": parent_fid},
                LIKED_RATE_TARGET[rater.kind],
            )
            row["met"] = met
            row["all4"] = all(met.values())
            print(json.dumps(row), flush=True)
