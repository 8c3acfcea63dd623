"""Decode latency: ms per `ImageModel.decode` of 1 and of 64 latents, GAN and VAE, torch threads 1 and 2; for a
model with an acceptance rule (the shipped GAN) also `generate` of 16 and 64 with and without the rule.

Uses the shipped fashion-gan / fashion-vae when they exist, else freshly initialised default-config
models (the JSON says which: the architecture, not the weights, sets the cost). Median over repeats.
Prints ONE JSON line:

    python benchmarks/sample_latency.py               # ~10-30 s
    python benchmarks/sample_latency.py --repeats 5   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.models.pipeline import ImageModel, load_model
from aigc.paths import PRETRAINED_DIR

FRESH = {"gan": lambda: GAN(GANConfig()), "vae": lambda: VAE(VAEConfig())}


def get_model(kind: str) -> tuple[ImageModel, str]:
    path = PRETRAINED_DIR / f"fashion-{kind}.safetensors"
    if path.exists():
        return load_model(path, device="cpu"), f"shipped:{path.name}"
    torch.manual_seed(0)
    return ImageModel(FRESH[kind](), CheckpointRecord(kind, {}), device="cpu"), "fresh:default-config"


def median_ms(model: ImageModel, n: int, repeats: int, warmup: int = 3) -> float:
    z = model.latents(n, seed=0)
    for _ in range(warmup):
        model.decode(z)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.decode(z)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def median_generate_ms(model: ImageModel, n: int, repeats: int) -> float:
    """`generate(n, seed)`: the latents' draw (a GAN's acceptance rule decodes and scores its candidates) and
    the pictures, one new seed per call."""
    model.generate(n, seed=10_000)
    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        model.generate(n, seed=seed)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed decodes per (kind, threads, batch)")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    args = parser.parse_args()
    report: dict = {"benchmark": "sample_latency", "unit": "ms per decode call (median)", "torch": torch.__version__}
    for kind in ("gan", "vae"):
        model, source = get_model(kind)
        entry: dict = {"source": source, "latent_dim": model.latent_dim, "image_shape": list(model.image_shape)}
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for n in (1, 64):
                entry[f"threads{threads}_batch{n}_ms"] = round(median_ms(model, n, args.repeats), 3)
        rule = model.acceptance
        if rule is not None:  # what the rule costs a request: generate with it, then with every draw a sample
            torch.set_num_threads(1)
            for n in (16, 64):
                entry[f"threads1_generate{n}_ms"] = round(median_generate_ms(model, n, args.repeats), 3)
                model.acceptance = None
                entry[f"threads1_generate{n}_unfiltered_ms"] = round(median_generate_ms(model, n, args.repeats), 3)
                model.acceptance = rule
            entry["acceptance_keep"] = rule.keep
        report[kind] = entry
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
