"""Memory left behind by bursts of heavy requests, with glibc's malloc as it is and as the studio sets it (at most
2 arenas, freed memory trimmed back every 5 s: aigc_ui.memory); prints one JSON line per setting and a summary.

Each setting runs the app as its own process (`python app.py --no-warm-up`, the shipped models, a temporary
database and AIGC_HOME), then `--bursts` bursts of 24 requests sent at once, each from a new `gradio_client`
session: 16 `/sample` calls for 64 GAN images and 8 `/to_rate` calls for 64 VAE picks (each scoring a pool of
1,024). The server's RSS is read before and 10 s after each burst
(twice the trim's period: memory at rest, for both settings alike). The two settings run one after the other in
one invocation, so compare them by their ratio, not against another day's figures.

    python benchmarks/burst_memory.py [--bursts 6] [--note WORDS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abuse import tree_rss_bytes
from ui_load import app_process

from aigc_ui.memory import MALLOC_ARENAS, TRIM_EVERY_S

BURST = 24  # requests sent at once: more than the queue runs together, so they wait and allocate side by side


def one_request(url: str, i: int) -> tuple[bool, float]:
    from gradio_client import Client

    client = Client(url, verbose=False, httpx_kwargs={"timeout": 300})
    t0 = time.perf_counter()
    try:
        if i % 3 == 0:
            client.predict("fashion-vae", 64, i, api_name="/to_rate")
        else:
            client.predict("fashion-gan", 64, i, 0, api_name="/sample")
        return True, time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - counted, not raised: a refusal under load is part of what is measured
        return False, time.perf_counter() - t0


def run(arenas: int, trim_every_s: float, bursts: int) -> dict:
    """One setting: at most `arenas` malloc arenas, a trim every `trim_every_s` s (0, 0: glibc's own behaviour)."""
    os.environ["AIGC_MALLOC_ARENAS"], os.environ["AIGC_MALLOC_TRIM_S"] = str(arenas), str(trim_every_s)
    with (
        tempfile.TemporaryDirectory() as tmp,
        app_process(tmp, f"sqlite:///{tmp}/f.sqlite3", "--no-warm-up") as (url, proc),
    ):
        time.sleep(3)
        mb = lambda: round(tree_rss_bytes(proc.pid) / 2**20, 1)  # noqa: E731
        before, after, walls, failed = mb(), [], [], 0
        for _ in range(bursts):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(BURST) as pool:
                results = list(pool.map(lambda i: one_request(url, i), range(BURST)))
            walls.append(round(time.perf_counter() - t0, 1))
            failed += sum(not ok for ok, _ in results)
            time.sleep(2 * TRIM_EVERY_S)
            after.append(mb())
    return {
        "benchmark": "burst_memory",
        "malloc_arenas": arenas or "glibc default",
        "malloc_trim_every_s": trim_every_s or "never",
        "bursts": bursts,
        "requests_per_burst": BURST,
        "failed": failed,
        "rss_before_mb": before,
        "rss_after_each_burst_mb": after,
        "growth_mb": round(after[-1] - before, 1),
        "burst_wall_s": walls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=6)
    parser.add_argument("--note", default="", help="a word on what this run measures, kept in its lines")
    args = parser.parse_args()
    lines = [run(arenas, every, args.bursts) for arenas, every in ((0, 0.0), (MALLOC_ARENAS, TRIM_EVERY_S))]
    note = {"note": args.note} if args.note else {}
    for line in lines:
        print(json.dumps({**line, **note}))
    default, limited = lines
    print(
        json.dumps(
            {
                "summary": True,
                "benchmark": "burst_memory",
                **note,
                "growth_mb_default": default["growth_mb"],
                "growth_mb_limited": limited["growth_mb"],
                "growth_ratio_limited_to_default": round(limited["growth_mb"] / max(default["growth_mb"], 1.0), 3),
                "mean_burst_wall_ratio": round(
                    sum(limited["burst_wall_s"]) / max(sum(default["burst_wall_s"]), 1e-9), 3
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
