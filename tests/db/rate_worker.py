"""One process of the multi-process test: open the shared store (racing the
others through migration and registration), record N samples, then 4 threads
each rate all of them as their own rater (4 × N ratings from this process).

Usage: python rate_worker.py URL WORKER_ID N GO_FILE  → prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from feedback_db import FeedbackError, FeedbackStore

THREADS = 4


def main(url: str, worker: int, n: int, go_file: str) -> int:
    deadline = time.monotonic() + 30
    while not Path(go_file).exists():  # start together, after the imports
        if time.monotonic() > deadline:
            raise SystemExit("never got the go signal")
        time.sleep(0.005)
    errors: list[str] = []
    rated = [0] * THREADS
    with FeedbackStore(url, durable=False) as store:
        version = store.register_version("shared", "gan", "/ckpt/shared", "e" * 64, latent_dim=4)
        z = np.random.default_rng(worker).standard_normal((n, 4))
        ids = store.record_samples(version.id, z, seed=worker, rater_id=f"proc-{worker}")

        def rate_all(t: int) -> None:
            for i, sid in enumerate(ids):
                try:
                    store.rate(sid, 1.0 if i % 2 else -1.0, f"proc-{worker}-t{t}")
                    rated[t] += 1
                except FeedbackError as exc:
                    errors.append(repr(exc))

        threads = [threading.Thread(target=rate_all, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    print(json.dumps({"worker": worker, "rated": sum(rated), "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
