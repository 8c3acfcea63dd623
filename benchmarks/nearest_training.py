"""Are a model's samples copies of its training images? Distance to the nearest training image, beside test images'.

Why: the GAN's second stage pulls each picture towards its nearest real training image
(`aigc.training.perceptual.NearestRealImages`), and a pull like that could end in a generator that
reproduces its training set. Test images were never trained on, so their distance to the nearest
training image is what "a new picture of the same kind" looks like; a model whose samples sit much
closer than that is copying. Distance: root-mean-square pixel difference, pixels in [-1, 1], against all
60,000 Fashion-MNIST training images. One JSON line per model (quantiles 1%, 10%, 50%, and the share of
samples closer than the test images' 1% quantile, which is 0.01 for the test images themselves):

    python benchmarks/nearest_training.py --models fashion-gan,fashion-vae   # ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch


def nearest_distances(queries: torch.Tensor, train: torch.Tensor, chunk: int = 500) -> torch.Tensor:
    """(N,) RMS pixel distance of each flattened query to its nearest flattened training image."""
    train_sq = (train**2).sum(1)
    out = []
    for i in range(0, len(queries), chunk):
        q = queries[i : i + chunk]
        squared = (q**2).sum(1, keepdim=True) - 2 * q @ train.T + train_sq
        out.append(squared.clamp_min(0).min(1).values.sqrt() / np.sqrt(train.shape[1]))
    return torch.cat(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-gan,fashion-vae", help="names or checkpoint paths, comma-separated")
    p.add_argument("--n", type=int, default=2000, help="samples per model (seeds 0.., 1000 at a time) and test images")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from aigc.data.datasets import from_uint8, load_dataset
    from aigc.models.pipeline import load_model

    train = load_dataset(None).images.flatten(1)
    test = load_dataset(None, split="test").images[: args.n].flatten(1)
    quantiles = torch.tensor([0.01, 0.1, 0.5])
    reference = nearest_distances(test, train)
    floor = float(reference.quantile(0.01))

    def row(name: str, distances: torch.Tensor) -> dict:
        return {
            "benchmark": "nearest_training",
            "model": name,
            "n": len(distances),
            "rms_quantiles_1_10_50": [round(float(v), 4) for v in distances.quantile(quantiles)],
            "closer_than_test_p1": round(float((distances < floor).float().mean()), 4),
        }

    print(json.dumps(row("test images", reference)), flush=True)
    for name in args.models.split(","):
        model = load_model(name)
        samples = np.concatenate([model.sample(min(1000, args.n - i), i) for i in range(0, args.n, 1000)])
        print(json.dumps(row(name, nearest_distances(from_uint8(samples).flatten(1), train))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
