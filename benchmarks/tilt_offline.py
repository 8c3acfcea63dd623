"""The reward model and the latent tilt on a shipped parent, without a fine-tune: many rating sets in minutes.

One feedback-loop run is one rating set, and which taste misses its target moves with the thumbs a run
happens to get. This benchmark asks the part of the loop that decides the taste (ratings → reward model
→ the tilt's choice among the parent's own draws) on several rating sets per taste, about a second each:
a rater rates 100 samples of the parent exactly as `feedback_loop.py` has them shown (`rating_pages.random_pages`
at its `round_seed`), the reward model is fitted on them (`fit_reward`, today's defaults), and the
parent's 8,000 tilt draws are scored and drawn from as `latent_prior.tilt_picks` draws a child's centres.
Graded on 1,000 of those picks by the rater's *true* taste and the shipped classifier's space: the liked
share, recall of the liked real test images, precision against all of them and FID to the liked ones (beside
the parent's first 1,000 draws' own, `fid_met`: the loop's FID target). No kernel and no training,
so it is a proxy for a child, not a child: it ranks reward-model choices, and the loop benchmark has the
last word.

    python benchmarks/tilt_offline.py --seeds 0,100000,200000,300000,400000
    python benchmarks/tilt_offline.py --without ink_roughness   # the same with one pixel statistic blanked
    python benchmarks/tilt_offline.py --to-rate                 # 50 ratings on the page's 🎯 picks
    python benchmarks/tilt_offline.py --to-rate --pool-per-pick 4   # 🎯 chosen from a smaller pool
    python benchmarks/tilt_offline.py --realism score           # only the loop's 85% most real-looking draws
    python benchmarks/tilt_offline.py --realism nearest         # the same by the score before (nearest cosine)
    python benchmarks/tilt_offline.py --realism score --oracle  # the tilt told the rater's true taste: a ceiling

`--without NAME` blanks a pixel statistic of `aigc.feedback.appearance.STAT_NAMES` (a constant column
standardises to zero, so no fit can read it): an ablation of one feature on the same draws and thumbs.
`--to-rate` rates the page's 🎯 *images to rate next* instead of random samples, chosen page by page as
`Studio.sample_to_rate` chooses them (a pool of fresh samples per page, the reward model on the ratings so
far, `selection.select_to_rate`), 50 of them unless `--ratings` says otherwise.
`--realism` lets only the most real-looking `--realism-keep` of the draws be picked, as a child's tilt does
(`finetune_data.realism_score`, the parent's perceptual network): `score` is the loop's realism score,
`nearest` the one before it (cosine similarity to the nearest real image); `off` (the default, as every
line before the option) lets every draw be picked.
`--oracle` replaces the reward model's P(liked) by the rater's own verdict on each draw (0.99 or 0.01): the
picks are then the parent's truly liked draws, evenly, so what they miss no reward model can reach by tilting
this parent (a ceiling for the tilt; only training can move the generator past it).
Each line also says whether its picks are at least as
precise as the parent's own first 1,000 draws (`precision_met`), the loop's precision target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-gan,fashion-vae")
    p.add_argument("--prefs", default="1,5,7", help="class tastes, as feedback_loop.py's --prefs")
    p.add_argument("--tastes", default="tuning,held-out")
    p.add_argument("--seeds", default="0,100000,200000", help="rating seeds, as feedback_loop.py's --rating-seed")
    p.add_argument("--ratings", type=int, default=None, help="ratings per run (default: 100, or 50 with --to-rate)")
    p.add_argument("--to-rate", action="store_true", help="rate the page's 🎯 picks instead of random samples")
    p.add_argument("--pool-per-pick", type=int, default=None, help="🎯's pool per pick (default: the page's)")
    p.add_argument("--without", default="", help="comma-separated pixel statistics to blank (an ablation)")
    p.add_argument("--realism", choices=("off", "nearest", "score"), default="off", help="realism filter (above)")
    p.add_argument("--realism-keep", type=float, default=0.85, help="share of the draws the filter keeps")
    p.add_argument("--oracle", action="store_true", help="tilt by the rater's true verdicts: the tilt's ceiling")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from feedback_loop import fashion_reference, tastes
    from loop_targets import MAX_RATINGS, MAX_RATINGS_TO_RATE, QUALITY_FIGURES, quality_targets
    from rating_pages import random_pages, round_seed

    from aigc.evaluation.metrics import fid, precision, recall
    from aigc.evaluation.raters import LIKED_RATE_TARGET
    from aigc.feedback.appearance import STAT_NAMES
    from aigc.feedback.features import reward_features
    from aigc.feedback.latent_prior import TiltConfig, draw_for_tilt, tilt_picks
    from aigc.feedback.reward import fit_reward
    from aigc.feedback.selection import POOL_PER_PICK
    from aigc.models.pipeline import load_model

    n_ratings = args.ratings or (MAX_RATINGS_TO_RATE if args.to_rate else MAX_RATINGS)
    per_pick = args.pool_per_pick or POOL_PER_PICK
    ref = fashion_reference()
    rows = []
    for name in args.models.split(","):
        model = load_model(name)
        rf = reward_features(model)
        blank = blanked_columns(rf.blocks, STAT_NAMES, [s for s in args.without.split(",") if s])
        cfg = TiltConfig()
        drawn = draw_for_tilt(model, cfg.draws, cfg.seed)
        feats = rf.compute(drawn.images)
        feats[:, blank] = 0.0
        judged = ref.embed(drawn.images).float()
        eligible = realism_eligible(model, drawn.images, args.realism, args.realism_keep)
        parent_precision = round(precision(ref.feats, judged[:1000], real_radius=ref.radius), 4)
        for rater in tastes(args.tastes, args.prefs):
            rater = rater.calibrate(ref.images, ref.classes)
            truth, liked_real = rater.likes(drawn.images), ref.liked(rater)
            parent_fid = round(fid(liked_real, judged[:1000]), 2)  # the parent's own: the same for every rating set
            for seed in (int(s) for s in args.seeds.split(",")):
                t0 = time.perf_counter()
                first = round_seed(seed, 1)  # a one-round loop run's rated samples
                if args.to_rate:
                    rated_feats, thumbs = chosen_ratings(model, rf, rater, n_ratings, first, per_pick, blank)
                else:
                    rated = np.concatenate([model.sample(n, s) for n, s in random_pages(n_ratings, first)])
                    rated_feats, thumbs = rf.compute(rated), rater.rate(rated)
                    rated_feats[:, blank] = 0.0
                row = {"model": name, "taste": rater.name, "kind": rater.kind, "held_out": rater.held_out}
                row |= {"rating_seed": seed, "ratings": len(thumbs), "without": args.without, "to_rate": args.to_rate}
                row |= {"oracle": True} if args.oracle else {}
                row |= {"pool_per_pick": per_pick if args.to_rate else None, "likes_rated": int((thumbs > 0).sum())}
                row |= {"realism": args.realism, "realism_keep": round(float(eligible.mean()), 4)}
                try:
                    reward = fit_reward(rated_feats, thumbs, seed=0, blocks=rf.blocks)
                except ValueError as exc:  # one-sided thumbs: nothing to learn from
                    rows.append({**row, "error": str(exc)})
                    print(json.dumps(rows[-1]), flush=True)
                    continue
                scores = np.where(truth, 0.99, 0.01) if args.oracle else reward.predict(feats)
                picks, _, beta = tilt_picks(scores, cfg, eligible)
                graded = picks[:1000]
                row |= {
                    "blocks": "+".join(reward.blocks_used),
                    "steering_views": reward.summary().get("steering_views"),
                    "reward_flip": reward.flip,
                    "heldout_accuracy": reward.heldout.get("heldout_accuracy"),
                    "tilt_temperature": beta,
                    "liked_rate": round(float(truth[picks].mean()), 4),
                    "recall_liked": round(recall(liked_real, judged[graded]), 4),
                    "precision_all": round(precision(ref.feats, judged[graded], real_radius=ref.radius), 4),
                    "fid_liked": round(fid(liked_real, judged[graded]), 2),
                    "fid_liked_parent": parent_fid,
                    "distinct_draws": int(len(np.unique(picks))),
                    "s": round(time.perf_counter() - t0, 2),
                }
                parent = {"precision_all": parent_precision, "fid_liked": parent_fid}
                met = quality_targets({k: row[k] for k in QUALITY_FIGURES}, parent, LIKED_RATE_TARGET[rater.kind])
                row |= {
                    "liked_rate_met": met["liked_rate"],
                    "recall_met": met["recall_liked"],
                    "fid_met": met["fid_liked"],
                    "precision_parent": parent_precision,
                    "precision_met": met["precision_all"],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    extra = {"to_rate": args.to_rate, "ratings": n_ratings} | ({"oracle": True} if args.oracle else {})
    print(json.dumps(summary(rows, args.without) | extra), flush=True)
    return 0


def realism_eligible(model, images: np.ndarray, how: str, keep: float) -> np.ndarray:
    """(N,) bool: the draws the tilt may pick, the `keep` share most real-looking by `how` (all when "off" or
    the model has no perceptual network, as in the loop)."""
    from aigc.feedback.config import FinetuneConfig
    from aigc.feedback.finetune_data import REALISM_BANK, realism_score, training_set
    from aigc.feedback.latent_prior import most_real
    from aigc.models.pipeline import models_dirs
    from aigc.training.perceptual import NearestRealImages, PerceptualDistance, inherited

    everything = np.ones(len(images), bool)
    network = inherited(model.record, models_dirs(None)) if how != "off" else None
    if network is None:
        return everything
    real, _, _ = training_set(model, FinetuneConfig(), None)
    if how == "score":
        score = realism_score(network, real)
        if score is None:
            return everything
        looks = score(images)
    else:
        from aigc.data.datasets import from_uint8

        bank = NearestRealImages(PerceptualDistance.load(network[0]), real[:REALISM_BANK].float())
        with torch.no_grad():
            looks = (bank.distance.embed(from_uint8(images)) @ bank.keys.T).amax(1).double().numpy()
    return most_real(looks, keep)


def chosen_ratings(
    model, rf, rater, n: int, seed: int, per_pick: int, blank: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(reward features, thumbs) of n 🎯 picks, each page chosen as `Studio.sample_to_rate` chooses it: from
    a pool of fresh samples of the page's seed, by `select_to_rate` with the reward model fitted on the
    ratings before it (none until the readiness rule is met): `advice.assess_scores(...).pick_to_rate`."""
    from rating_pages import to_rate_pages

    from aigc.feedback.advice import assess_scores
    from aigc.feedback.selection import pool_size

    feats, thumbs = np.zeros((0, rf.dim)), np.zeros(0)
    for count, page_seed in to_rate_pages(n, seed):
        pool = model.generate(pool_size(count, per_pick), page_seed).images
        pool_feats = rf.compute(pool)
        pool_feats[:, blank] = 0.0
        picks = assess_scores(feats, thumbs, rf.blocks).pick_to_rate(pool_feats, count)
        feats = np.concatenate([feats, pool_feats[picks]])
        thumbs = np.concatenate([thumbs, rater.rate(pool[picks])])
    return feats, thumbs


def blanked_columns(blocks: list[tuple[str, int]], stat_names: tuple[str, ...], names: list[str]) -> list[int]:
    """Column indices of the named pixel statistics in the reward features; refuses unknown names."""
    unknown = sorted(set(names) - set(stat_names))
    if unknown:
        raise SystemExit(f"unknown pixel statistics {unknown}; known: {', '.join(stat_names)}")
    start = 0
    for block, width in blocks:
        if block == "stats":
            return [start + stat_names.index(n) for n in names]
        start += width
    return []


def summary(rows: list[dict], without: str) -> dict:
    done = [r for r in rows if "liked_rate" in r]

    def mean(key: str) -> float | None:  # over the lines that have it: lines before FID was graded lack it
        values = [r[key] for r in done if key in r]
        return round(float(np.mean(values)), 4) if values else None

    return {
        "summary": True,
        "without": without,
        "runs": len(rows),
        "failed": len(rows) - len(done),
        "mean_liked_rate": mean("liked_rate"),
        "mean_recall_liked": mean("recall_liked"),
        "mean_precision_all": mean("precision_all"),
        "liked_rate_met": sum(r["liked_rate_met"] for r in done),
        "recall_met": sum(r["recall_met"] for r in done),
        "both_met": sum(r["liked_rate_met"] and r["recall_met"] for r in done),
        "mean_fid_liked": mean("fid_liked"),
        "fid_met": sum(r.get("fid_met", False) for r in done),
        "all_four_met": sum(
            r["liked_rate_met"] and r["recall_met"] and r.get("precision_met", False) and r.get("fid_met", False)
            for r in done
        ),
        "precision_met": sum(r.get("precision_met", False) for r in done),
        "all_three_met": sum(r["liked_rate_met"] and r["recall_met"] and r.get("precision_met", False) for r in done),
    }


if __name__ == "__main__":
    sys.exit(main())
