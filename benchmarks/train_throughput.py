"""Training throughput: our loop (`aigc.training.loop.train`) vs a plain pytorch/examples-style DCGAN loop.

Same GAN (default `GANConfig`), same data, batch 128, same thread count, measured in the same process
and alternated round by round so background noise hits both alike. Prints ONE JSON line:

    python benchmarks/train_throughput.py                      # ~1-2 min on 2 idle cores
    python benchmarks/train_throughput.py --steps 3 --rounds 1  # smoke run

Variants of our loop (--variants): 'channels_last' converts the model to channels-last memory format.
Data: Fashion-MNIST train split when it can be found without downloading, else 60000 random 28×28 images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("AIGC_NO_DOWNLOAD", "1")

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from aigc.data.datasets import DatasetError, ImageDataset, load_idx_dataset
from aigc.models import GAN, GANConfig
from aigc.models.checkpoint import CheckpointRecord
from aigc.training.loop import TrainConfig, train

BATCH = 128


def dataset() -> ImageDataset:
    try:
        return load_idx_dataset(None, split="train")
    except DatasetError:
        gen = torch.Generator().manual_seed(0)
        return ImageDataset(torch.rand(60000, 1, 28, 28, generator=gen) * 2 - 1, None, "synthetic-random:60000")


def ours(ds: ImageDataset, steps: int, channels_last: bool = False) -> float:
    """images/s of `aigc.training.loop.train` (its own clock: the loop only, not setup or the final grid)."""
    torch.manual_seed(0)
    model = GAN(GANConfig())
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            out_dir=out,
            steps=steps,
            batch_size=BATCH,
            progress=False,
            sample_every=0,
            checkpoint_every=0,
            log_every=10**9,
        )
        result = train(model, ds, cfg, CheckpointRecord("gan", {}))
    return steps * BATCH / result.wall_time_s


def reference(ds: ImageDataset, steps: int) -> float:
    """The pytorch/examples dcgan/main.py loop: DataLoader, two Adams, D real/fake then G non-saturating."""
    torch.manual_seed(0)
    model = GAN(GANConfig())
    net_g, net_d = model.generator, model.discriminator
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(ds.images), batch_size=BATCH, shuffle=True, drop_last=True)
    batches = iter(loader)
    t0 = time.perf_counter()
    for _ in range(steps):
        try:
            (real,) = next(batches)
        except StopIteration:
            batches = iter(loader)
            (real,) = next(batches)
        b = real.size(0)
        # (1) update D: maximise log D(x) + log(1 - D(G(z)))
        net_d.zero_grad()
        out = net_d(real)
        err_d_real = F.binary_cross_entropy_with_logits(out, torch.ones(b))
        err_d_real.backward()
        noise = torch.randn(b, model.latent_dim)
        fake = net_g(noise)
        out = net_d(fake.detach())
        err_d_fake = F.binary_cross_entropy_with_logits(out, torch.zeros(b))
        err_d_fake.backward()
        opt_d.step()
        # (2) update G: maximise log D(G(z))
        net_g.zero_grad()
        out = net_d(fake)
        err_g = F.binary_cross_entropy_with_logits(out, torch.ones(b))
        err_g.backward()
        opt_g.step()
        err_g.item()  # the example prints losses every step; this also syncs like ours does
    return steps * BATCH / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per contender before the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads for all contenders (default: torch's)"
    )
    parser.add_argument(
        "--variants", default="channels_last", help="comma-separated extra variants of our loop ('' for none)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    ds = dataset()
    variants = [v for v in args.variants.split(",") if v]
    contenders = {"ours": lambda n: ours(ds, n), "reference": lambda n: reference(ds, n)}
    if "channels_last" in variants:
        contenders["ours_channels_last"] = lambda n: ours(ds, n, channels_last=True)
    for fn in contenders.values():
        fn(args.warmup)
    results: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            results[name].append(contenders[name](args.steps))
    med = {name: statistics.median(v) for name, v in results.items()}
    report = {
        "benchmark": "train_throughput",
        "model": "gan",
        "config": "GANConfig()",
        "data": ds.name,
        "batch": BATCH,
        "threads": threads,
        "steps": args.steps,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "ours_images_per_s": round(med["ours"], 1),
        "reference_images_per_s": round(med["reference"], 1),
        "ratio_ours_over_reference": round(med["ours"] / med["reference"], 3),
    }
    for name in names[2:]:
        report[f"{name}_images_per_s"] = round(med[name], 1)
        report[f"ratio_{name}_over_ours"] = round(med[name] / med["ours"], 3)
    report["all_runs_images_per_s"] = {k: [round(x, 1) for x in v] for k, v in results.items()}
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
