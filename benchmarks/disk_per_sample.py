"""What each image shown costs on disk: bytes of the SQLite database per recorded sample, per shipped model.

    python benchmarks/disk_per_sample.py [--images 2400]

The studio (a temporary SQLite file, the shipped models) records `--images` samples of each model in
batches of 16, each batch for a new anonymous visitor (an id as the page makes them), as a script that
spends its quota would; the database is measured after it is closed (its write-ahead log folded in).
Prints ONE JSON line per model: bytes per sample, and what a day at the default quotas would write (the
deployment's 3,000 images a minute, one address's 1,200): the figure behind `--min-free-disk-mb`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigc.service.quotas import QuotaSettings
from aigc.service.studio import Studio

BATCH = 16


def database_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("feedback.sqlite3*"))


def measure(model: str, images: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="aigc-disk-") as tmp:
        url = f"sqlite:///{tmp}/feedback.sqlite3"
        with Studio.open(url, threads=1) as studio:  # the tables and the model's version row
            studio.refresh()
        empty = database_bytes(Path(tmp))
        with Studio.open(url, threads=1) as studio:
            studio.quotas.settings = QuotaSettings(samples_per_minute=0, samples_per_minute_total=0)
            for i in range(images // BATCH):
                studio.sample(model, BATCH, i, rater=f"anon-{uuid.uuid4().hex}")
        per_sample = (database_bytes(Path(tmp)) - empty) / (images // BATCH * BATCH)
    defaults = QuotaSettings()
    per_day = 60 * 24 * per_sample / 1e9
    return {
        "benchmark": "disk_per_sample",
        "model": model,
        "samples": images // BATCH * BATCH,
        "bytes_per_sample": round(per_sample, 1),
        "gb_per_day_at_deployment_quota": round(per_day * defaults.samples_per_minute_total, 2),
        "gb_per_day_at_one_address_quota": round(per_day * defaults.samples_per_minute_per_address, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2400, help="samples recorded per model")
    args = p.parse_args(argv)
    for model in ("fashion-gan", "fashion-vae"):
        print(json.dumps(measure(model, args.images)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
