"""How good the shipped models are, measured the same way every time: one JSON line per model.

For fashion-gan and fashion-vae (or the checkpoints named with --models): FID, precision and recall
of 10,000 samples against the 10,000 Fashion-MNIST test images in the shipped classifier's feature
space (`aigc evaluate`), the largest gap between a class's share of the samples and a fair tenth,
the training wall time recorded in the checkpoint (all stages of a model trained in stages), and for
a VAE the reconstruction error on test images with the classifier's class gap of those reconstructions
beside the test images' own (a gap already in the reconstructions is the decoder's, not the prior's).
Each line also says whether the model meets issue 14's targets, and a summary line says whether all do:

    python benchmarks/model_quality.py             # ~2 min on 2 cores
    python benchmarks/model_quality.py --n 2000    # quick look (noisier FID, higher by a few points)
    python benchmarks/model_quality.py --models fashion-gan --seeds 0,10000,20000   # how much a figure moves
"""

from __future__ import annotations

import argparse
import json
import time

from aigc.evaluation.metrics import evaluate_model
from aigc.evaluation.reconstruction import reconstruction_report
from aigc.models.cards import earlier_stages, total_wall_time
from aigc.models.checkpoint import read_checkpoint
from aigc.models.pipeline import load_model, resolve_model_path

# what a shipped model must reach (issue 14): FID at most, precision and recall at least, histogram gap at most
TARGETS = {
    "gan": {"fid": 20.0, "precision": 0.75, "recall": 0.75, "histogram_max_deviation": 0.02},
    "vae": {"fid": 35.0, "precision": 0.75, "recall": 0.6, "histogram_max_deviation": 0.02},
}
TRAINING_BUDGET_S = 2 * 3600


def measure(name: str, n: int, seed: int) -> dict:
    t0 = time.perf_counter()
    report = evaluate_model(name, n=n, seed=seed, device="cpu")
    _, record, _ = read_checkpoint(resolve_model_path(name))
    stages = earlier_stages(record)
    rule = record.extra.get("acceptance") or {}
    timed = all(s.get("wall_time_s") is not None for s in stages)
    line: dict = {
        "benchmark": "model_quality",
        "model": name,
        "kind": record.kind,
        "n": n,
        **{k: report[k] for k in ("fid", "precision", "recall", "histogram_max_deviation", "class_histogram")},
        "floor_fid": report["floor_fid_train_vs_test"],
        # a model trained in stages (`aigc train --init CKPT --name SAME`) spent the budget in all of them, and a
        # GAN's acceptance rule (`aigc filter`) in its calibration too
        "train_wall_time_s": round(total_wall_time(stages) + float(rule.get("wall_time_s") or 0), 1) if timed else None,
        "train_stages": len(stages),
        "train_device": record.training.get("device"),
        "train_command": " && ".join(str(s.get("command")) for s in stages),
        "prior": "fitted mixture" if record.extra.get("prior") else "N(0, I)",
        "acceptance_keep": rule.get("keep"),  # None: every draw is a sample (aigc/models/acceptance.py)
    }
    if record.kind == "vae":
        line.update(reconstruction_report(load_model(name, device="cpu"), n=n))
    targets = TARGETS.get(record.kind, {})
    met = {
        key: (line[key] <= bound if key in ("fid", "histogram_max_deviation") else line[key] >= bound)
        for key, bound in targets.items()
    }
    wall = line["train_wall_time_s"]
    met["train_wall_time_s"] = wall is not None and wall <= TRAINING_BUDGET_S
    line["targets"] = targets
    line["targets_met"] = met
    line["all_targets_met"] = all(met.values())
    line["seed"] = seed
    line["eval_s"] = round(time.perf_counter() - t0, 1)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="fashion-gan,fashion-vae", help="comma-separated names or paths")
    parser.add_argument("--n", type=int, default=10000, help="samples per model (10,000 is the reported figure)")
    parser.add_argument(
        "--seeds", default="0", help="comma-separated first seeds; more than one shows how much the figures move"
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [measure(name, args.n, seed) for name in args.models.split(",") for seed in seeds]
    for line in lines:
        print(json.dumps(line))
    print(
        json.dumps(
            {"benchmark": "model_quality", "summary": True, "all_targets_met": all(x["all_targets_met"] for x in lines)}
        )
    )


if __name__ == "__main__":
    main()
