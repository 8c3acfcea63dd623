"""The reward model alone, on real images: how much of the fine-tuning weight lands on what a rater likes.

No generator, no fine-tune: a few seconds per taste, so reward-model choices can be compared on many
tastes before the (minutes-long) feedback-loop benchmark. A rater (`aigc/evaluation/raters.py`) rates
`--ratings` random real test images; the reward model is fitted on them; every other test image gets
the fine-tune's weight P(liked)^(1/β) (β = 0.5, `reward.reward_weights`). Reported per taste: the
share of that weight on images the rater truly likes ("liked mass": what the child is pulled
towards), the reward model's accuracy on the unrated images, and its own held-out accuracy. `before`
is the reward as it was before issue 13, near enough (the classifier embedding alone, plain logistic,
the old L2 grid, no calibration); `after` is today's (`fit_reward` on the blocks a run on a shipped
model reads: the embedding, the class probabilities, the appearance blocks; flip rate and calibration).

    python benchmarks/reward_offline.py --tastes bright,bright-careless,textured --ratings 100

`--picks N` adds a third fit, `picks`: the same ratings plus N blind A/B pairs of other test images, each
decided by the rater (`TasteRater.pick`; a yes/no taste calls a pair of two liked or two disliked images a
tie, and ties are left out) and read as Bradley–Terry evidence (`fit_reward(pairs=...)`). All three fits
are graded on the same images, none of them rated or shown in a pair.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tastes", default="all")
    p.add_argument("--ratings", default="100", help="comma-separated counts, e.g. 20,40,60,100")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--picks",
        type=int,
        default=0,
        help="also fit with this many blind A/B pairs shown (ties left out) as Bradley–Terry evidence",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from real_test_view import real_test_view

    from aigc.evaluation.raters import TASTES
    from aigc.feedback.reward import RewardConfig, fit_reward, reward_weights

    real = real_test_view()
    images, classes, feats, blocks = real.images, real.classes, real.features, real.blocks
    before_cfg = RewardConfig(flip_grid=(0.0,), calibrate=False, l2_grid=(0.1, 1.0, 10.0, 100.0))
    names = [n for n in TASTES if args.tastes == "all" or n in args.tastes.split(",")]
    rows = []
    for name in names:
        rater = TASTES[name].calibrate(images, classes)
        truth = rater.likes(images, classes)
        thumbs = np.where(truth ^ rater.flipped(images), 1.0, -1.0)
        for n in (int(c) for c in args.ratings.split(",")):
            for seed in range(args.seeds):
                idx = np.random.default_rng(seed).permutation(len(images))
                rated, shown, rest = idx[:n], idx[n : n + 2 * args.picks], idx[n + 2 * args.picks :]
                left, right = shown[0::2], shown[1::2]
                picks = rater.pick(images[left], images[right])
                winners = np.where(picks > 0, left, right)[picks != 0]
                losers = np.where(picks > 0, right, left)[picks != 0]
                row = {"taste": name, "kind": rater.kind, "held_out": rater.held_out, "ratings": n, "seed": seed}
                fits = [
                    ("before", feats[:, : real.learned_dim], before_cfg, None, None),
                    ("after", feats, RewardConfig(), blocks, None),
                ]
                if args.picks:
                    row["picks_shown"], row["picks_decided"] = args.picks, len(winners)
                    fits.append(("picks", feats, RewardConfig(), blocks, (feats[winners], feats[losers])))
                for tag, x, cfg, b, pairs in fits:
                    try:
                        reward = fit_reward(x[rated], thumbs[rated], cfg, seed=seed, blocks=b, pairs=pairs)
                    except ValueError as exc:  # one-sided ratings: nothing to learn from
                        row[f"{tag}_error"] = str(exc)
                        continue
                    prob = reward.predict(x[rest])
                    w = reward_weights(prob).weights
                    row[f"{tag}_liked_mass"] = round(float((w * truth[rest]).sum() / w.sum()), 4)
                    row[f"{tag}_accuracy"] = round(float(((prob > 0.5) == truth[rest]).mean()), 4)
                    row[f"{tag}_heldout_accuracy"] = reward.heldout.get("heldout_accuracy")
                    if tag != "before":
                        row[f"{tag}_blocks"] = "+".join(reward.blocks_used)
                        row[f"{tag}_flip"] = reward.flip
                row["base_rate"] = round(float(truth[rest].mean()), 4)
                print(json.dumps(row), flush=True)
                rows.append(row)
    done = [r for r in rows if "before_liked_mass" in r and "after_liked_mass" in r]
    print(
        json.dumps(
            {
                "summary": True,
                "runs": len(rows),
                "mean_liked_mass_before": round(float(np.mean([r["before_liked_mass"] for r in done])), 4)
                if done
                else None,
                "mean_liked_mass_after": round(float(np.mean([r["after_liked_mass"] for r in done])), 4)
                if done
                else None,
                **(
                    {
                        "mean_liked_mass_picks": round(
                            float(np.mean([r.get("picks_liked_mass", np.nan) for r in done])), 4
                        )
                    }
                    if args.picks
                    else {}
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
