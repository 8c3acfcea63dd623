"""Does the page's "Fairly sure" mean what it says? Its confidence level against what the runs truly reached.

A feedback-loop run stores what the page said (`run_reported.confidence`: high, medium or low) beside the
rater's true liked rate of the child. This refits each saved run's reward model from the same thumbs (the
same samples, rated as `feedback_loop.py` shows them, `rating_pages.random_pages`; a refit gives the run's
own level again under the rule of its day, which the `reproduced` count checks) and asks, per level, how
many runs met their liked-rate target. It prints the level of the rule before each side's count was kept
(held-out accuracy alone), of the rule with it on the figures the fit's own choices graded (`selection`,
before nesting), and of today's (`calibration.confidence` on the nested figures, `aigc/feedback/nested.py`),
and whether today's `no_taste` would have refused the run; so a change of the rule is measured on runs already
made, without a fine-tune: a few seconds per run.

    python benchmarks/confidence_audit.py benchmarks/results_feedback_tastes_gan.jsonl \\
        benchmarks/results_feedback_tastes_vae.jsonl benchmarks/results_feedback_curve.jsonl \\
        benchmarks/results_feedback_fresh.jsonl benchmarks/results_feedback_tastes_second_rating_set.jsonl

Only one-round runs on random ratings of a shipped Fashion-MNIST model are refitted (🎯 runs chose their
ratings with a model of their own, and a folder's rater needs its folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

LEVELS = ("high", "medium", "low")
PER_SIDE_KEYS = ("heldout_liked", "heldout_disliked")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="feedback_loop.py JSON-line files")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from feedback_loop import fashion_reference
    from rating_pages import random_pages, round_seed

    from aigc.evaluation.raters import TasteRater, named_tastes
    from aigc.feedback.calibration import confidence, no_taste
    from aigc.feedback.features import reward_features
    from aigc.feedback.reward import RewardConfig, fit_reward
    from aigc.models.pipeline import load_model

    ref = fashion_reference()
    loaded: dict[str, tuple] = {}
    rows = []
    for file in args.runs:
        for line in Path(file).read_text().splitlines():
            run = json.loads(line) if line else {}
            if not refittable(run):
                continue
            if run["model"] not in loaded:
                model = load_model(run["model"])
                loaded[run["model"]] = (model, reward_features(model))
            model, rf = loaded[run["model"]]
            taste = run["taste"]
            is_class_set = taste.startswith("classes-")  # feedback_loop.py's --prefs tastes are not in the registry
            rater = TasteRater(taste, "class", classes=class_set(taste)) if is_class_set else named_tastes([taste])[0]
            rater = rater.calibrate(ref.images, ref.classes)
            pages = random_pages(run["ratings_used"], round_seed(run.get("rating_seed", 0), 1))
            rated = np.concatenate([model.sample(n, s) for n, s in pages])
            x, thumbs = rf.compute(rated), rater.rate(rated)
            chosen = fit_reward(x, thumbs, RewardConfig(nested=False), seed=0, blocks=rf.blocks).heldout
            heldout = fit_reward(x, thumbs, seed=0, blocks=rf.blocks).heldout
            accuracy_alone = {k: v for k, v in chosen.items() if not k.startswith(PER_SIDE_KEYS)}
            row = {"file": Path(file).name, "model": run["model"], "taste": taste, "ratings": run["ratings_used"]}
            row |= {"likes": heldout["heldout_liked_n"], "selection_accuracy": chosen["heldout_accuracy"]}
            row |= {"heldout_accuracy": heldout["heldout_accuracy"], "heldout_auc": heldout["heldout_auc"]}
            row |= {"reported": run["run_reported"].get("confidence"), "before": confidence(accuracy_alone)[0]}
            row |= {"selection": confidence(chosen)[0], "today": confidence(heldout)[0], "no_taste": no_taste(heldout)}
            row["liked_rate"] = run["liked_rate_after"]
            row["liked_rate_met"] = run["liked_rate_after"] >= run["liked_rate_target"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(summary(rows)), flush=True)
    return 0


def refittable(run: dict) -> bool:
    one_round = run.get("rounds", 1) == 1 and not run.get("to_rate") and "liked_rate_after" in run
    return one_round and run.get("model") in ("fashion-gan", "fashion-vae")


def class_set(taste: str) -> tuple[int, ...]:
    """'classes-157' → (1, 5, 7): feedback_loop.py's name for a --prefs class taste."""
    return tuple(int(c) for c in taste.split("-", 1)[1])


def summary(rows: list[dict]) -> dict:
    # a run reported the rule of its day: a refit reproduces it when it gives that level under one of the three rules
    reproduced = sum(r["reported"] in (r["before"], r["selection"], r["today"]) for r in rows)
    out: dict = {"summary": True, "runs": len(rows), "reproduced": reproduced}
    refused = [r for r in rows if r["no_taste"]]
    out["no_taste"] = {"runs": len(refused), "liked_rate_met": sum(r["liked_rate_met"] for r in refused)}
    for rule in ("before", "selection", "today"):
        for level in LEVELS:
            chosen = [r for r in rows if r[rule] == level]
            out[f"{rule}_{level}"] = {
                "runs": len(chosen),
                "liked_rate_met": sum(r["liked_rate_met"] for r in chosen),
                "mean_liked_rate": round(float(np.mean([r["liked_rate"] for r in chosen])), 4) if chosen else None,
            }
    return out


if __name__ == "__main__":
    sys.exit(main())
