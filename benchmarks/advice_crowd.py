"""Visitors who open the Fine-tune tab at once, on the same ratings: one reward fit or one each; prints ONE JSON line.

The page's advice (`Studio.ratings_advice`) fits the reward model with its nested held-out grade: seconds at a
thousand ratings. Every new rating changes what it must fit, so the visitors who arrive after one share no
cached fit, and before this measure each of them ran their own on the same cores. Side by side in one run:
`--askers` threads asking the studio at once (one fit, shared), then the same number of fits of the same
ratings run at once, as each asker did before (`aigc.feedback.advice.assess` called directly).

    python benchmarks/advice_crowd.py [--model fashion-vae] [--ratings 1000] [--askers 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fashion-vae")
    p.add_argument("--ratings", type=int, default=1000)
    p.add_argument("--askers", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    from aigc.feedback.advice import assess
    from aigc.service.quotas import QuotaSettings
    from aigc.service.studio import Studio

    with tempfile.TemporaryDirectory() as home, Studio.open(f"sqlite:///{home}/f.sqlite3", threads=args.threads) as s:
        no_quota = {"samples_per_minute": 0, "samples_per_minute_total": 0}  # 0: unlimited (one scripted rater)
        s.quotas.settings = QuotaSettings(**no_quota, ratings_per_minute=0, ratings_per_minute_total=0)
        for page in range(0, args.ratings, 50):  # pages of 50, as a person rates them
            batch = s.sample(args.model, min(50, args.ratings - page), page, rater="crowd")
            ink = batch.images.reshape(len(batch.images), -1).mean(1)  # a taste: items with much ink
            for sample_id, amount in zip(batch.sample_ids, ink):
                s.rate(sample_id, 1.0 if amount > 90 else -1.0, "crowd")
        version = s.registry.version(args.model).id
        model = s.registry.model(args.model)

        def at_once(fn) -> float:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.askers) as pool:
                list(pool.map(lambda _: fn(), range(args.askers)))
            return round(time.perf_counter() - t0, 2)

        shared = at_once(lambda: s.ratings_advice(args.model, "crowd"))
        each = at_once(lambda: assess(model, s.store, version, "crowd"))
    row = {"benchmark": "advice_crowd", "model": args.model, "ratings": args.ratings, "askers": args.askers}
    row |= {"shared_fit_s": shared, "one_fit_each_s": each, "ratio": round(each / shared, 2)}
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
