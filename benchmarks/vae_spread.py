"""Choose a VAE's prior spread on held-back training images, never on the test images its card reports.

A VAE samples z from a Gaussian mixture fitted to where its encoder puts the training images
(`aigc prior`). Drawn at the fitted scale the samples are realistic but too alike (a decoder averages what
it cannot tell apart); drawn wider they vary more and get less clean. This refits the mixture of a copy of
the checkpoint at each `--spreads` value and measures 10,000 samples against training images
50,000–60,000 in the shipped classifier's feature space: FID, precision, recall and the largest gap of a
class's share from a tenth. One JSON line per spread; the checkpoint itself is not touched.

    python benchmarks/vae_spread.py aigc/pretrained/fashion-vae.safetensors --spreads 1.0,1.15,1.3
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--spreads", default="1.0,1.15,1.3")
    p.add_argument("--components", type=int, default=50)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from aigc.cli import main as aigc
    from aigc.evaluation.metrics import (
        class_gap,
        classify_features,
        fid,
        precision_recall,
        real_features,
        sample_features,
    )
    from aigc.models.pipeline import load_model

    train, _ = real_features("train")
    held_back = train[50000:60000]  # the prior is fitted to images 0–20,000; these are neither fitted nor tested
    with tempfile.TemporaryDirectory(prefix="aigc-spread-") as tmp:
        for spread in (float(s) for s in args.spreads.split(",")):
            copy = Path(tmp) / f"spread-{spread}.safetensors"
            shutil.copy(args.checkpoint, copy)
            command = ["prior", str(copy), "--components", str(args.components), "--spread", str(spread)]
            with contextlib.redirect_stdout(io.StringIO()):  # the refit's own line; this script prints its rows
                refitted = aigc(command)
            if refitted != 0:
                return 1
            model = load_model(str(copy))
            fake = sample_features(model, args.n)
            precision, recall = precision_recall(held_back, fake)
            gap, shares = class_gap(classify_features(fake).numpy())
            row = {
                "checkpoint": args.checkpoint,
                "spread": spread,
                "fid": round(fid(held_back, fake), 2),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "class_gap": gap,
                "class_shares": [round(s, 3) for s in shares],
            }
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
