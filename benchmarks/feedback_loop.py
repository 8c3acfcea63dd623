"""The headline result: does rating images and fine-tuning move a model towards a rater's taste?

A simulated rater who likes some Fashion-MNIST classes (judged by the shipped classifier) rates
samples through the same Studio calls the page makes; `aigc.feedback.finetune.finetune` (the code the
page's background process and `aigc finetune` run) follows; then fresh samples of parent and
child are judged. One JSON line per run, then one summary line.

    python benchmarks/feedback_loop.py                       # GAN + VAE × three preferences
    python benchmarks/feedback_loop.py --models fashion-gan --prefs 1,5,7 --rounds 3 --per-round 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PREFS = {
    "1,5,7": "trousers, sandals, sneakers",
    "0,2,4": "tops, pullovers, coats",
    "3,8,9": "dresses, bags, ankle boots",
}


def judge(model, rater, real_feats, real_labels, n: int, seed: int) -> dict:
    from aigc.evaluation.metrics import embed, fid, precision_recall

    images = model.sample(n, seed)
    feats = embed(images)
    liked_real = real_feats[np.isin(real_labels.numpy(), rater.liked_classes)]
    precision, _ = precision_recall(real_feats, feats)
    _, recall = precision_recall(liked_real, feats)
    liked = torch.from_numpy(rater.rate(images) > 0)
    # realism of the samples the rater likes: a taste for classes the model draws less well lowers
    # precision_all after fine-tuning even when nothing got worse; this separates the two
    precision_liked_samples = precision_recall(real_feats, feats[liked])[0] if liked.sum() > 10 else float("nan")
    return {
        "liked_rate": round(rater.liked_rate(images), 4),
        "precision_all": round(precision, 4),
        "precision_liked_samples": round(precision_liked_samples, 4),
        "fid_liked": round(fid(liked_real, feats), 2),
        "recall_liked": round(recall, 4),
    }


def rate_samples(studio, model: str, rater, n: int, seed: int) -> None:
    """Exactly what the page does: Studio.sample records the samples, Studio.rate stores each click."""
    done = 0
    while done < n:
        batch = studio.sample(model, min(50, n - done), seed + done, rater=rater.name)
        for sample_id, score in zip(batch.sample_ids, rater.rate(batch.images)):
            studio.rate(sample_id, float(score), rater.name)
        done += len(batch.sample_ids)


def run(
    model: str,
    prefs: str,
    rounds: int,
    per_round: int,
    steps: int | None,
    eval_n: int,
    workdir: Path,
    lr_scale: float | None = None,
    ess_floor: float | None = None,
) -> dict:
    from aigc.evaluation.metrics import SimulatedRater, real_features
    from aigc.feedback.finetune import FinetuneConfig, finetune
    from aigc.service.studio import Studio

    liked = tuple(int(c) for c in prefs.split(","))
    rater = SimulatedRater(liked, name=f"sim-{prefs.replace(',', '')}")
    real_feats, real_labels = real_features("test")
    home = workdir / f"{model}-{prefs.replace(',', '')}"
    os.environ["AIGC_HOME"] = str(home)
    studio = Studio.open(db_url=f"sqlite:///{home}/feedback.sqlite", models_dir=str(home / "models"), threads=2)
    current = model
    history = [
        {"round": 0, "model": current, **judge(studio.model(current), rater, real_feats, real_labels, eval_n, 12345)}
    ]
    # the loop itself: rating through the studio + the fine-tuning run (its own parent-vs-child figures included)
    wall = 0.0
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        rate_samples(studio, current, rater, per_round, seed=1000 * r)
        overrides = {
            k: v for k, v in (("steps", steps), ("lr_scale", lr_scale), ("ess_floor", ess_floor)) if v is not None
        }
        result = finetune(
            current,
            studio.store,
            FinetuneConfig(eval_n=500, progress=False, threads=2, **overrides),
            models_dir=str(home / "models"),
        )
        wall += time.perf_counter() - t0
        studio.refresh()
        current = result.child
        history.append(
            {
                "round": r,
                "model": current,
                "run_metrics": {
                    k: result.metrics[k] for k in ("reward_cv_accuracy", "reward_temperature", "ess_fraction")
                },
                **judge(studio.model(current), rater, real_feats, real_labels, eval_n, 12345),
            }
        )
    before, after = history[0], history[-1]
    out = {
        "model": model,
        "liked_classes": list(liked),
        "liked": PREFS.get(prefs, prefs),
        "rounds": rounds,
        "ratings_used": rounds * per_round,
        "steps_per_round": steps,
        "eval_n": eval_n,
        "liked_rate_before": before["liked_rate"],
        "liked_rate_after": after["liked_rate"],
        "precision_all_before": before["precision_all"],
        "precision_all_after": after["precision_all"],
        "precision_liked_samples_before": before["precision_liked_samples"],
        "precision_liked_samples_after": after["precision_liked_samples"],
        "fid_liked_before": before["fid_liked"],
        "fid_liked_after": after["fid_liked"],
        "recall_liked_before": before["recall_liked"],
        "recall_liked_after": after["recall_liked"],
        "run_time_s": round(wall, 1),
        "history": history,
    }
    out["targets_met"] = bool(
        out["liked_rate_after"] >= 0.8
        and out["precision_all_after"] >= 0.9 * out["precision_all_before"]
        and out["fid_liked_after"] < out["fid_liked_before"]
        and out["recall_liked_after"] >= 0.5
        and wall <= 180
        and out["ratings_used"] <= 200
    )
    save_grids(studio, model, current, home, Path("docs") if args_docs else None, prefs)
    studio.close()
    return out


args_docs = False


def save_grids(studio, parent: str, child: str, home: Path, docs: Path | None, prefs: str) -> None:
    from aigc.data.images import make_grid, to_pil

    rows = [make_grid(studio.model(m).sample(32, 7), nrow=16) for m in (parent, child)]
    grid = np.concatenate([rows[0], np.full((6, rows[0].shape[1], rows[0].shape[2]), 255, np.uint8), rows[1]])
    target = (docs or home) / f"finetune_{parent}_{prefs.replace(',', '')}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    to_pil(grid, upscale=2).save(target)


def plot_rounds(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for res in results:
        xs = [h["round"] for h in res["history"]]
        ax.plot(
            xs, [h["liked_rate"] for h in res["history"]], marker="o", label=f"{res['model']}: likes {res['liked']}"
        )
    ax.set_xticks(range(max(len(r["history"]) for r in results)))
    ax.set_xlabel(f"round (rate {results[0]['ratings_used'] // max(1, results[0]['rounds'])}, fine-tune)")
    ax.set_ylabel("simulated rater's liked rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    global args_docs
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-gan,fashion-vae")
    p.add_argument("--prefs", default=";".join(PREFS), help="';'-separated liked-class lists, e.g. '1,5,7;0,2,4'")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--per-round", type=int, default=200, help="ratings per round")
    p.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the kind's default)")
    p.add_argument("--lr-scale", type=float, default=None)
    p.add_argument("--ess-floor", type=float, default=None)
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--docs", action="store_true", help="write grids/plots under docs/")
    p.add_argument("--plot", default=None, help="write a liked-rate-per-round plot here")
    args = p.parse_args()
    args_docs = args.docs
    torch.set_num_threads(2)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            for prefs in args.prefs.split(";"):
                res = run(
                    model,
                    prefs,
                    args.rounds,
                    args.per_round,
                    args.steps,
                    args.eval_n,
                    Path(tmp),
                    args.lr_scale,
                    args.ess_floor,
                )
                print(json.dumps(res), flush=True)
                results.append(res)
    if args.plot:
        plot_rounds(results, Path(args.plot))
    print(
        json.dumps(
            {
                "summary": True,
                "runs": len(results),
                "all_targets_met": all(r["targets_met"] for r in results),
                "table": [
                    {
                        k: r[k]
                        for k in (
                            "model",
                            "liked",
                            "ratings_used",
                            "liked_rate_before",
                            "liked_rate_after",
                            "precision_all_before",
                            "precision_all_after",
                            "precision_liked_samples_before",
                            "precision_liked_samples_after",
                            "fid_liked_before",
                            "fid_liked_after",
                            "recall_liked_after",
                            "run_time_s",
                        )
                    }
                    for r in results
                ],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
