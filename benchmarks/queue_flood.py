"""A flood of queued requests beside one honest person, against the page's queue bound; prints ONE JSON line.

The app runs as its own process (`python app.py`, the shipped models, a temporary SQLite database and
AIGC_HOME) with `--queue-max N`. One honest client samples 4 GAN images every 0.3 s throughout, through the
REST API (`/gradio_api/call/sample`); after 3 s, `--joins` requests for 64 GAN images each are posted to
Gradio's queue, 50 at a time, each from a new session, whose results are never read (what a script that
wants the server down does: per-person quotas cannot tell its sessions apart). The flood comes from
127.0.0.2 and the honest person from 127.0.0.3: two other machines as the server sees them (this machine's
own 127.0.0.1 is not metered by address). Reported: how many joins the queue took and refused, the server's
peak RSS (sampled every 0.1 s, as benchmarks/abuse.py does), and the honest person's calls during the flood
and the 40 s after it: how many succeeded, their p50 and longest time, and how many failed.

    python benchmarks/queue_flood.py [--joins 2000] [--queue-max 128]   # --queue-max 0: unbounded
    python benchmarks/queue_flood.py --no-address-limits   # no share of the queue or quota per address (before)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).parent))

from abuse import PeakMemory
from ui_latency import percentile
from ui_load import app_process

GAN = "fashion-gan"
FLOOD_ADDRESS, HONEST_ADDRESS = "127.0.0.2", "127.0.0.3"


def call_result(client, url: str, api_name: str, data: list) -> tuple[str, object]:
    """One call through the REST API (`/gradio_api/call/NAME`): ('complete' or 'error', its data), or
    ('refused', the reply's detail) when the queue did not take it."""
    reply = client.post(f"{url}gradio_api/call/{api_name}", json={"data": data})
    if reply.status_code != 200:
        return "refused", f"{reply.status_code}: {reply.json().get('detail', '')}"
    event = None
    with client.stream("GET", f"{url}gradio_api/call/{api_name}/{reply.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in ("complete", "error"):
                return event, json.loads(line[len("data: ") :])
    return "error", "the stream ended without a result"


def sample_once(client, url: str) -> str | None:
    """One /sample of 4 images: None when it came back, else what went wrong."""
    event, said = call_result(client, url, "sample", [GAN, 4, 1, 0])
    if event == "complete":
        return None
    return str(said.get("error") if isinstance(said, dict) else said)[:80]


def honest_person(url: str, stop: threading.Event, out: dict) -> None:
    import httpx

    transport = httpx.HTTPTransport(local_address=HONEST_ADDRESS)
    with httpx.Client(transport=transport, timeout=120) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                problem = sample_once(client, url)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if problem is None:
                out["times"].append(time.perf_counter() - t0)
            else:
                out["errors"].append(problem)
            time.sleep(0.3)


async def flood(url: str, joins: int, fn_index: int) -> dict:
    import httpx

    counts = {"taken": 0, "refused": 0}
    transport = httpx.AsyncHTTPTransport(local_address=FLOOD_ADDRESS, limits=httpx.Limits(max_connections=50))
    async with httpx.AsyncClient(timeout=120, transport=transport) as client:
        gate = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            body = {"data": [GAN, 64, i, 0], "fn_index": fn_index, "trigger_id": None, "session_hash": uuid.uuid4().hex}
            async with gate:
                reply = await client.post(f"{url}gradio_api/queue/join", json=body)
            counts["taken" if reply.status_code == 200 else "refused"] += 1

        await asyncio.gather(*(one(i) for i in range(joins)))
    return counts


def run(joins: int, queue_max: int, address_limits: bool = True, after_s: float = 40.0) -> dict:
    import httpx

    with tempfile.TemporaryDirectory(prefix="aigc-flood-") as tmp:
        args = ["--no-warm-up", "--queue-max", str(queue_max or 10**9)]
        if not address_limits:
            args += ["--queue-max-each", str(10**9), "--quota-samples-per-minute-per-address", "0"]
        out: dict = {"times": [], "errors": []}
        stop = threading.Event()
        with app_process(tmp, f"sqlite:///{tmp}/flood.sqlite3", *args) as (url, proc):
            memory = PeakMemory(proc.pid)  # as benchmarks/abuse.py measures the server: its RSS every 0.1 s
            memory.start()
            try:
                deps = httpx.get(f"{url}config", timeout=30).json()["dependencies"]
                fn_index = next(i for i, d in enumerate(deps) if d.get("api_name") == "sample")
                person = threading.Thread(target=honest_person, args=(url, stop, out), daemon=True)
                person.start()
                time.sleep(3)
                before = len(out["times"])
                t0 = time.monotonic()
                counts = asyncio.run(flood(url, joins, fn_index))
                flood_s = time.monotonic() - t0
                time.sleep(after_s)
                stop.set()
                person.join(timeout=180)
            finally:
                memory.stop.set()
    during = out["times"][before:]
    return {
        "benchmark": "queue_flood",
        "queue_max": queue_max or None,
        "address_limits": address_limits,
        "joins": joins,
        "joins_taken": counts["taken"],
        "joins_refused": counts["refused"],
        "flood_s": round(flood_s, 1),
        "peak_rss_mb": round(memory.peak / 2**20, 1),
        "honest_calls_ok": len(during),
        "honest_p50_s": round(percentile(during, 0.5), 2) if during else None,
        "honest_max_s": round(max(during), 2) if during else None,
        "honest_calls_failed": len(out["errors"]),
        "honest_failures_say": sorted(set(out["errors"]))[:2],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--joins", type=int, default=2000, help="queued requests the flood posts")
    p.add_argument("--queue-max", type=int, default=128, help="the app's --queue-max (0: unbounded, as before)")
    p.add_argument(
        "--no-address-limits",
        action="store_true",
        help="no share of the queue and no image quota per address (--queue-max-each and the quota off: before)",
    )
    args = p.parse_args(argv)
    print(json.dumps(run(args.joins, args.queue_max, not args.no_address_limits)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
