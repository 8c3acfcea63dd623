"""The shipped models measured by a second judge: a classifier nothing was trained against or tuned on.

Why: the card's figures read the shipped classifier's features, and the VAE's perceptual term reads
another classifier trained on the same labels (`aigc.training.perceptual`). A gain that only one
feature space sees would be a judge pleased, not a better model. This trains a third network with
another width, seed and embedding size (once; cached beside the feature cache) and measures each
model's 10,000 samples against the 10,000 test images in its space: FID, precision, recall and the
largest gap of its class calls from a fair tenth. Its floors (training images 0–10,000 against the test
images, and the test images' own class gap) say what "as good as real" reads there. One JSON line per model:

    python benchmarks/cross_judge.py --models fashion-gan,fashion-vae,OLD.safetensors   # ~2 min + 1 min once
"""

from __future__ import annotations

import argparse
import json

import torch

from aigc.data.datasets import ImageDataset, load_dataset, to_uint8
from aigc.evaluation.metrics import cache_dir, class_gap, classify, embed, fid, precision_recall
from aigc.models.checkpoint import CheckpointRecord, load_module
from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.pipeline import load_model
from aigc.training.loop import TrainConfig, save_final, train

JUDGE = ClassifierConfig(width=16, embed_dim=64)  # not the shipped judge's 32/128, nor the perceptual net's 8/128
JUDGE_SEED, JUDGE_EPOCHS = 2, 2.0


def cross_judge(train_set: ImageDataset) -> torch.nn.Module:
    path = cache_dir() / f"cross-judge-w{JUDGE.width}-e{JUDGE.embed_dim}-s{JUDGE_SEED}.safetensors"
    if not path.exists():
        torch.manual_seed(JUDGE_SEED)
        model = Classifier(JUDGE)
        record = CheckpointRecord(kind="classifier", config={}, name="cross-judge", dataset=train_set.name)
        cfg = TrainConfig(out_dir=str(path.parent / "cross-judge-run"), epochs=JUDGE_EPOCHS, seed=JUDGE_SEED)
        train(model, train_set, cfg, record)
        save_final(path, model, record)
    return load_module(path)[0].eval()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-gan,fashion-vae", help="names or checkpoint paths, comma-separated")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    train_set, test_set = load_dataset(None, split="train"), load_dataset(None, split="test")
    judge = cross_judge(train_set)
    test_images = to_uint8(test_set.images[: args.n])
    real = embed(test_images, judge)
    test_calls = classify(test_images, judge)
    train_slice = embed(to_uint8(train_set.images[: args.n]), judge)
    floor_p, floor_r = precision_recall(real, train_slice)
    floors = {
        "judge_test_accuracy": round(float((test_calls == test_set.labels[: args.n]).float().mean()), 4),
        "floor_fid": round(fid(real, train_slice), 3),
        "floor_precision": round(floor_p, 4),
        "floor_recall": round(floor_r, 4),
        "test_class_gap": round(class_gap(test_calls.numpy())[0], 4),
    }
    for name in [m for m in args.models.split(",") if m]:
        model = load_model(name, device="cpu")
        images = [model.sample(min(1000, args.n - i), seed=i) for i in range(0, args.n, 1000)]
        fake = torch.cat([embed(batch, judge) for batch in images])
        calls = torch.cat([classify(batch, judge) for batch in images])
        precision, recall = precision_recall(real, fake)
        gap, shares = class_gap(calls.numpy())
        line = {
            "benchmark": "cross_judge",
            "model": name,
            "weights_sha256": model.record.weights_sha256,
            "n": args.n,
            "fid": round(fid(real, fake), 3),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "class_gap": round(gap, 4),
            "class_shares": [round(s, 3) for s in shares],
            **floors,
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
