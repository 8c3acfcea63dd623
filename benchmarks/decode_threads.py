"""What reproducible decoding costs: decode time with the one-thread rule vs torch's own thread count.

    python benchmarks/decode_threads.py [--repeats 30]

Prints one JSON line: per model, thread count and batch size, the median and best decode time (ms) with
`reproducible_threads` (what the studio does) and with it switched off (the old, thread-dependent path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch

import aigc.models.pipeline as pipeline


def timed(model, z, repeats: int) -> tuple[float, float]:
    model.decode(z)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decode(z)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2), round(min(times), 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    rule = pipeline.reproducible_threads
    report = {}
    for name in ("fashion-gan", "fashion-vae"):
        model = pipeline.load_model(name, device="cpu")
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            for n in (1, 16, 64):
                z = model.latents(n, 7)
                pipeline.reproducible_threads = lambda device: contextlib.nullcontext()
                free = timed(model, z, args.repeats)
                pipeline.reproducible_threads = rule
                fixed = timed(model, z, args.repeats)
                report[f"{name} t={threads} n={n}"] = {"thread_dependent_ms": free, "reproducible_ms": fixed}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
