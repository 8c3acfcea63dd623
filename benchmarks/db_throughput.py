"""Feedback database throughput: ratings/s and bulk samples/s, one writer and
16 concurrent writers, on SQLite (a temp file) and PostgreSQL ($AIGC_TEST_PG_URL,
a throwaway database on that server; null with a reason when unset).

Prints ONE JSON line. Each figure is measured through the public FeedbackStore
API, so it includes validation, the transaction and the commit.

    python benchmarks/db_throughput.py [--ratings 400] [--writers 16] [--fast]

`--fast` uses durable=False (no fsync per commit); the default measures the
durable setting the app runs with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedback_db import FeedbackStore
from feedback_db.testing import temporary_postgres_database

LATENT_DIM = 128


def _threads(n: int, work: Callable[[int], None]) -> float:
    """Run `work(i)` in n threads started together; return the wall time."""
    barrier = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} writer errors, first: {errors[0]!r}")
    return elapsed


def measure(url: str, n_ratings: int, writers: int, durable: bool) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    batch = 500
    with FeedbackStore(url, durable=durable) as store:
        version = store.register_version("bench", "gan", "/bench", "b" * 64, latent_dim=LATENT_DIM)
        z = rng.standard_normal((batch, LATENT_DIM)).astype(np.float32)

        # Bulk samples, one writer: batches of 500 latents, one transaction each.
        n_batches = 8
        start = time.perf_counter()
        ids: list[int] = []
        for b in range(n_batches):
            ids += store.record_samples(version.id, z, seed=b)
        samples_single = n_batches * batch / (time.perf_counter() - start)

        # Bulk samples, concurrent writers: each writes 2 batches.
        elapsed = _threads(writers, lambda i: [store.record_samples(version.id, z, seed=1000 + i) for _ in range(2)])
        samples_concurrent = writers * 2 * batch / elapsed

        # Ratings, one writer.
        start = time.perf_counter()
        for sid in ids[:n_ratings]:
            store.rate(sid, 1.0, "single")
        ratings_single = n_ratings / (time.perf_counter() - start)

        # Ratings, concurrent writers: each rater rates its own slice.
        per_writer = max(1, n_ratings // writers)
        elapsed = _threads(
            writers,
            lambda i: [store.rate(sid, -1.0, f"w{i}") for sid in ids[i * per_writer : (i + 1) * per_writer]],
        )
        ratings_concurrent = writers * per_writer / elapsed

        n_total = sum(s.n_ratings for s in store.stats_per_version())
        expected = n_ratings + writers * per_writer
        if n_total != expected:
            raise RuntimeError(f"lost ratings: {n_total} stored, {expected} written")

    return {
        "single_writer": {"ratings_per_s": round(ratings_single, 1), "samples_per_s": round(samples_single, 1)},
        f"writers_{writers}": {
            "ratings_per_s": round(ratings_concurrent, 1),
            "samples_per_s": round(samples_concurrent, 1),
        },
    }


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="aigc-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=400, help="ratings per phase (default 400)")
    parser.add_argument("--writers", type=int, default=16, help="concurrent writer threads (default 16)")
    parser.add_argument("--fast", action="store_true", help="durable=False: no fsync per commit")
    args = parser.parse_args(argv)
    durable = not args.fast

    result: dict[str, Any] = {
        "benchmark": "db_throughput",
        "durable": durable,
        "latent_dim": LATENT_DIM,
        "cpus": os.cpu_count(),
    }
    with sqlite_url() as url:
        result["sqlite"] = measure(url, args.ratings, args.writers, durable)

    pg = os.environ.get("AIGC_TEST_PG_URL")
    if not pg:
        result["postgres"] = None
        result["postgres_reason"] = 'AIGC_TEST_PG_URL not set (eval "$(bash .ci/start_postgres.sh)")'
    else:
        with ExitStack() as stack:
            try:
                url = stack.enter_context(temporary_postgres_database(pg, prefix="aigc_bench"))
            except Exception as exc:  # noqa: BLE001 - report, do not crash the line
                result["postgres"] = None
                result["postgres_reason"] = f"cannot create a database on {pg}: {exc}"
            else:
                result["postgres"] = measure(url, args.ratings, args.writers, durable)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
