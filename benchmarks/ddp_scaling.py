"""Data-parallel scaling: training images/s with 1 process vs N processes under torchrun (DDP).

Each configuration runs the real command (`aigc train KIND --data synthetic ...`, under
`python -m torch.distributed.run --nproc_per_node N` when N > 1) with the same GLOBAL batch, and
reads the loop's own images/s from its JSON line (the loop only: no start-up, no final grid).
Configurations alternate round by round so background load hits them alike; the median is kept.
Prints ONE JSON line:

    python benchmarks/ddp_scaling.py                                  # ~2-4 min on 2 idle cores
    python benchmarks/ddp_scaling.py --steps 5 --rounds 1             # smoke run
    python benchmarks/ddp_scaling.py --configs 1x1,4x1,8x1 --device cpu   # a bigger CPU box
    python benchmarks/ddp_scaling.py --configs 1x1,2x1 --device cuda      # GPUs: N = GPUs, NCCL

A configuration PxT is P processes with T torch threads each. The default, 1x1,1x2,2x1, answers
the question for this machine: on 2 cores, is one process with 2 threads or 2 DDP processes with
1 thread each the better use of them?
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(kind: str, procs: int, threads: int, args: argparse.Namespace) -> float:
    """images/s of one `aigc train` run (global batch args.batch_size over `procs` processes)."""
    with tempfile.TemporaryDirectory(prefix="ddp-bench-") as out:
        train = [
            "train",
            kind,
            "--data",
            "synthetic",
            "--limit",
            str(args.examples),
            "--size",
            str(args.size),
            "--steps",
            str(args.steps),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(threads),
            "--sample-every",
            "0",
            "--checkpoint-every",
            "0",
            "--device",
            args.device,
            "--quiet",
            "--out",
            out,
        ]
        if procs == 1:
            cmd = [sys.executable, "-m", "aigc.cli", *train]
        else:
            cmd = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc_per_node",
                str(procs),
                "--master_addr",
                "127.0.0.1",
                "--master_port",
                str(free_port()),
                "-m",
                "aigc.cli",
                *train,
            ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "AIGC_NO_DOWNLOAD": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{proc.stderr[-3000:]}")
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
        return float(json.loads(line)["images_per_s"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", default="gan,vae", help="comma-separated: gan, vae, classifier")
    p.add_argument("--configs", default="1x1,1x2,2x1", help="PROCESSESxTHREADS, comma-separated (first = baseline)")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128, help="global batch (split over the processes)")
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--examples", type=int, default=4096, help="synthetic training images")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args(argv)

    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    results: dict[str, dict[str, float]] = {}
    for kind in args.kinds.split(","):
        samples: dict[str, list[float]] = {f"{pr}x{th}": [] for pr, th in configs}
        for _ in range(args.rounds):
            for pr, th in configs:
                samples[f"{pr}x{th}"].append(run_once(kind, pr, th, args))
        medians = {k: round(statistics.median(v), 1) for k, v in samples.items()}
        base = medians[f"{configs[0][0]}x{configs[0][1]}"]
        results[kind] = {
            "images_per_s": medians,
            "speedup_vs_" + next(iter(medians)): {k: round(v / base, 2) for k, v in medians.items()},
        }

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        json.dumps(
            {
                "benchmark": "ddp_scaling",
                "device": args.device,
                "cpus": os.cpu_count(),
                "load_1min_after": load,
                "global_batch": args.batch_size,
                "steps": args.steps,
                "rounds": args.rounds,
                "image_size": args.size,
                "models": "default configs",
                **results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
