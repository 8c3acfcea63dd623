"""A flood of explorer moves beside one honest person moving a slider; prints ONE JSON line.

The explorer's slider moves are a server function of its view (one POST to `/gradio_api/component_server`,
outside Gradio's queue, run in the pool of threads every handler shares). The app runs as its own process
(`python app.py`, the shipped models, a temporary SQLite database and AIGC_HOME). One honest person makes one
move at a time, as the page does, with a 50 ms pause, from 127.0.0.3; after `--quiet-seconds`, a script
sends moves from 127.0.0.2 over `--connections` connections at once, as fast as the server answers, for
`--seconds` (two other machines as the server sees them; this machine's own 127.0.0.1 has no share of its
own). Reported: the honest moves' p50 / p95 before and during the flood and how many failed; the flood's
moves answered and refused; the server's peak RSS.

    python benchmarks/move_flood.py [--seconds 20] [--connections 64]
    python benchmarks/move_flood.py --moves-max-each 1000000   # no share of moves per address (before)
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
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).parent))

from abuse import PeakMemory
from queue_flood import call_result
from ui_latency import percentile
from ui_load import app_process

VAE = "fashion-vae"
FLOOD_ADDRESS, HONEST_ADDRESS = "127.0.0.2", "127.0.0.3"


def move_body(url: str) -> dict:
    """A valid move of the explorer's view: the shipped VAE's seed-0 latent with its first slider moved."""
    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    view = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "ex-image")
    with httpx.Client(timeout=60) as client:
        event, outputs = call_result(client, url, "sample", [VAE, 1, 0, 0])
    assert event == "complete", outputs
    z = outputs[1]["latents"][0]  # type: ignore[index]
    request = {"model": VAE, "z": z, "changed": {"0": 1.5}, "grant": "", "token": "bench"}
    return {"session_hash": "bench", "component_id": view, "fn_name": "move", "data": request}


def honest_person(url: str, body: dict, stop: threading.Event, out: dict) -> None:
    import httpx

    with httpx.Client(transport=httpx.HTTPTransport(local_address=HONEST_ADDRESS), timeout=120) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                reply = client.post(f"{url}gradio_api/component_server", json=body)
                ok = reply.status_code == 200 and str(reply.json()).startswith("data:image/")
            except httpx.HTTPError:
                ok = False
            out["moves"].append((time.monotonic(), time.perf_counter() - t0, ok))
            time.sleep(0.05)


async def flood(url: str, body: dict, seconds: float, connections: int) -> dict:
    import httpx

    counts = {"answered": 0, "refused": 0, "failed": 0}
    transport = httpx.AsyncHTTPTransport(local_address=FLOOD_ADDRESS, limits=httpx.Limits(max_connections=connections))
    until = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=120, transport=transport) as client:

        async def one() -> None:
            while time.monotonic() < until:
                try:
                    reply = await client.post(f"{url}gradio_api/component_server", json=body)
                    counts["answered" if reply.status_code == 200 else "refused"] += 1
                except httpx.HTTPError:
                    counts["failed"] += 1

        await asyncio.gather(*(one() for _ in range(connections)))
    return counts


def summary(times: list[float]) -> dict:
    return {"n": len(times), "p50_ms": round(1000 * percentile(times, 0.5), 1) if times else None,
            "p95_ms": round(1000 * percentile(times, 0.95), 1) if times else None}  # fmt: skip


def run(seconds: float, quiet_seconds: float, connections: int, moves_each: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="aigc-moves-") as tmp:
        args = ["--no-warm-up", *(["--moves-max-each", str(moves_each)] if moves_each else [])]
        out: dict = {"moves": []}
        stop = threading.Event()
        with app_process(tmp, f"sqlite:///{tmp}/moves.sqlite3", *args) as (url, proc):
            body = move_body(url)
            memory = PeakMemory(proc.pid)
            memory.start()
            try:
                person = threading.Thread(target=honest_person, args=(url, body, stop, out), daemon=True)
                person.start()
                time.sleep(quiet_seconds)
                t0 = time.monotonic()
                counts = asyncio.run(flood(url, body, seconds, connections))
                t1 = time.monotonic()
                stop.set()
                person.join(timeout=180)
            finally:
                memory.stop.set()
    before = [s for when, s, ok in out["moves"] if ok and when < t0]
    during = [s for when, s, ok in out["moves"] if ok and t0 <= when < t1]
    return {
        "benchmark": "move_flood",
        "moves_max_each": moves_each or "default",
        "seconds": seconds,
        "connections": connections,
        "flood_answered": counts["answered"],
        "flood_refused": counts["refused"],
        "flood_failed": counts["failed"],
        "honest_before": summary(before),
        "honest_during": summary(during),
        "honest_failed": sum(1 for _, _, ok in out["moves"] if not ok),
        "peak_rss_mb": round(memory.peak / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="how long the flood lasts")
    p.add_argument("--quiet-seconds", type=float, default=8.0, help="honest moves alone first")
    p.add_argument("--connections", type=int, default=64, help="the flood's moves in flight at once")
    p.add_argument("--moves-max-each", type=int, default=None, help="the app's flag (default: the app's default)")
    args = p.parse_args(argv)
    print(json.dumps(run(args.seconds, args.quiet_seconds, args.connections, args.moves_max_each)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
