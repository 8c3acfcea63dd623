"""Memory under a flood of new sessions: every REST call without a cookie is a new Gradio session, and Gradio
keeps a copy of the page's config per session; prints ONE JSON line.

The app runs as its own process (`python app.py`, the shipped models, a temporary database and AIGC_HOME).
After it is up and idle, `--calls` requests for `/models` (cheap, not metered) are posted to
`/gradio_api/call/models` from this machine, 4 at a time, each as a new session, and the server's RSS is read
after every `--every` of them. Reported: the RSS before, at each checkpoint and at the end, the growth per
session over the first `--capacity` calls, and over the calls after them (where the studio's session capacity,
aigc_ui.server.SESSION_CAPACITY, should hold it flat).

    python benchmarks/session_flood.py [--calls 3000] [--every 500] [--note WORDS]
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

from aigc_ui.server import SESSION_CAPACITY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--note", default="", help="a word on what this run measures, kept in its line")
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp, app_process(tmp, f"sqlite:///{tmp}/f.sqlite3") as (url, proc):
        time.sleep(5)  # the warm-up's first decodes settle
        mb = lambda: round(tree_rss_bytes(proc.pid) / 2**20, 1)  # noqa: E731
        before, checkpoints, refused = mb(), [], 0
        client = httpx.Client(timeout=60)

        def call(_: int) -> int:
            return client.post(f"{url}gradio_api/call/models", json={"data": []}).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            for start in range(0, args.calls, args.every):
                batch = range(start, min(start + args.every, args.calls))
                refused += sum(code != 200 for code in pool.map(call, batch))
                time.sleep(1)  # the calls' results are made and dropped
                checkpoints.append({"sessions": min(start + args.every, args.calls), "rss_mb": mb()})
        at = {c["sessions"]: c["rss_mb"] for c in checkpoints}
        first = max((s for s in at if s <= SESSION_CAPACITY), default=None)
        line = {
            "benchmark": "session_flood",
            **({"note": args.note} if args.note else {}),
            "calls": args.calls,
            "session_capacity": SESSION_CAPACITY,
            "refused": refused,
            "seconds": round(time.perf_counter() - t0, 1),
            "rss_before_mb": before,
            "checkpoints": checkpoints,
            "rss_end_mb": mb(),
            "kb_per_session_up_to_capacity": round((at[first] - before) * 1024 / first, 1) if first else None,
            "kb_per_session_after_capacity": (
                round((checkpoints[-1]["rss_mb"] - at[first]) * 1024 / (checkpoints[-1]["sessions"] - first), 1)
                if first and checkpoints[-1]["sessions"] > first
                else None
            ),
        }
        print(json.dumps(line))


if __name__ == "__main__":
    main()
