# ruff: noqa
"""Offline VAE: the kernel's perturbed points filtered by realism, then a small second kernel (parent decoder)."""

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

name, taste_arg, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
K1 = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
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
for rater in tastes(taste_arg, "1,5,7"):
    rater = rater.calibrate(ref.images, ref.classes)
    liked_real = ref.liked(rater)
    parent_fid = round(fid(liked_real, judged_draws[:1000]), 2)
    for seed in seeds:
        rated = np.concatenate([model.sample(n, s) for n, s in random_pages(MAX_RATINGS, round_seed(seed, 1))])
        reward = fit_reward(rf.compute(rated), rater.rate(rated), seed=0, blocks=rf.blocks)
        picks, _, beta = tilt_picks(reward.predict(feats), cfg, eligible)
        centres = z_all[picks]  # 4096 with repeats, as the record's weights
        rng = np.random.default_rng(seed + 1)
        variants = {}
        comp = rng.integers(0, len(centres), 1000)
        eps = rng.standard_normal((1000, centres.shape[1]))
        variants["iso0.3"] = centres[comp] + K1 * spread * eps
        # stage 1: one perturbation per centre (4096) + extra to keep 4096 after the filter
        for keep in (0.85, 0.7):
            m = int(round(len(centres) / keep))
            base = centres[rng.integers(0, len(centres), m)] + K1 * spread * rng.standard_normal((m, centres.shape[1]))
            imgs = model.decode(base.astype(np.float32))
            s = score(imgs)
            kept = base[s >= np.quantile(s, 1 - keep)]
            for k2 in (0.0, 0.1):
                c2 = kept[rng.integers(0, len(kept), 1000)]
                variants[f"filt{keep}+{k2}"] = c2 + k2 * spread * rng.standard_normal(c2.shape)
        for vname, z in variants.items():
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
                {q: row[q] for q in QUALITY_FIGURES},
                {"precision_all": parent_precision, "fid_liked": parent_fid},
                LIKED_RATE_TARGET[rater.kind],
            )
            row["met"] = met
            row["all4"] = all(met.values())
            print(json.dumps(row), flush=True)
