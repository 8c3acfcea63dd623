"""Is the reward's held-out record honest, and does "No taste found" refuse only raters with no taste?

On real test images (no generator, no fine-tune: seconds per rating set), each rater rates `--ratings` random
images and the reward model is fitted as a run fits it. Per rating set: the accuracy its own choices' folds
report (`selection_accuracy`: the page's figure before nesting), the nested accuracy and AUC (today's
figure, `aigc/feedback/nested.py`), always guessing the commoner thumb, and whether `calibration.no_taste`
would refuse a fine-tune. Raters: every taste of `aigc/evaluation/raters.py` (their thumbs up to 15% careless),
the same tastes with 30% of thumbs flipped, and coin flips (each thumb a fair coin, whatever the picture).
The summary: per group, the share of rating sets refused, and the mean accuracy before and after nesting.

    python benchmarks/reward_nested.py                    # 60 and 100 ratings, 3 rating sets each, ~8 min
    python benchmarks/reward_nested.py --ratings 40 --seeds 6 --tastes coin,bright-careless
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch


def raters() -> dict:
    from aigc.evaluation.raters import FRESH_TASTES, TASTES, TasteRater, coin_rater

    out = {}
    for i, classes in enumerate([(1, 8), (0, 3), (5,), (2, 4, 6), (9,)]):  # a coin's thumbs ignore the taste
        out[f"coin-{i}"] = ("coin", coin_rater(f"coin-{i}", classes))
    out["coin-bright"] = ("coin", coin_rater("coin-bright", prop="item_brightness"))
    for name, r in {**TASTES, **FRESH_TASTES}.items():
        out[name] = ("careless" if r.flip else "taste", r)
    out["two-classes-30"] = ("careless-30", TasteRater("two-classes-30", "careless", classes=(1, 8), flip=0.3))
    out["bright-30"] = ("careless-30", TasteRater("bright-30", "careless", prop="item_brightness", flip=0.3))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tastes", default="all", help="comma-separated name prefixes, or 'all'")
    p.add_argument("--ratings", default="60,100")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from real_test_view import real_test_view

    from aigc.feedback.calibration import no_taste
    from aigc.feedback.reward import fit_reward

    real = real_test_view()
    images, classes, feats = real.images, real.classes, real.features
    wanted = None if args.tastes == "all" else args.tastes.split(",")
    rows = []
    for name, (group, rater) in raters().items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        rater = rater.calibrate(images, classes)
        thumbs = np.where(rater.likes(images, classes) ^ rater.flipped(images), 1.0, -1.0)
        for n in (int(c) for c in args.ratings.split(",")):
            for seed in range(args.seeds):
                idx = np.random.default_rng(seed).permutation(len(images))[:n]
                t0 = time.perf_counter()
                try:
                    reward = fit_reward(feats[idx], thumbs[idx], seed=seed, blocks=real.blocks)
                except ValueError as exc:  # one-sided: nothing to fit
                    print(json.dumps({"taste": name, "group": group, "ratings": n, "seed": seed, "error": str(exc)}))
                    continue
                h = reward.heldout
                row = {
                    "taste": name,
                    "group": group,
                    "ratings": n,
                    "seed": seed,
                    "likes": int((thumbs[idx] > 0).sum()),
                    "selection_accuracy": h["selection_accuracy"],
                    "nested_accuracy": h["heldout_accuracy"],
                    "majority_accuracy": h["heldout_majority_accuracy"],
                    "nested_auc": h["heldout_auc"],
                    "nested_brier": h["heldout_brier"],
                    "base_brier": h["heldout_base_brier"],
                    "no_taste": no_taste(h),
                    "fit_s": round(time.perf_counter() - t0, 2),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    groups = sorted({r["group"] for r in rows})
    summary = {"summary": True, "rating_sets": len(rows)}
    for g in groups:
        mine = [r for r in rows if r["group"] == g]
        summary[g] = {
            "rating_sets": len(mine),
            "refused": round(float(np.mean([r["no_taste"] for r in mine])), 3),
            "selection_accuracy": round(float(np.mean([r["selection_accuracy"] for r in mine])), 3),
            "nested_accuracy": round(float(np.mean([r["nested_accuracy"] for r in mine])), 3),
            "nested_auc_range": [min(r["nested_auc"] for r in mine), max(r["nested_auc"] for r in mine)],
        }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
