"""Eight people at once, through the API: sample, decode, rate, for 30 s; prints ONE JSON line.

The app runs as its own process (`python app.py`, as a person would start it) on a temporary SQLite
database; 8 `gradio_client` clients loop sample → decode → rate (changing their mind now and then).
Afterwards every rating a client was told is stored must be in the database with its last score.
Pass: zero errors and zero missing ratings.

    python benchmarks/ui_load.py [--clients 8] [--seconds 30] [--model NAME --models DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).parent))

from ui_latency import percentile, tiny_models

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the app did not come up at {url}")


def stop_server(proc: subprocess.Popen) -> None:
    """Ask the app to stop; kill it if it has not gone within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def app_process(
    tmp: str | Path, db: str, *args: str, open_files: tuple[int, int] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python app.py` as a person starts it, on a free port, with AIGC_HOME under `tmp`, the database `db` and
    `args`; its output goes to `tmp`/app.log (a pipe nobody reads would block it). Yields (url, process) once the
    page answers; stopped whatever happens. `open_files`: the (soft, hard) limit of open files it starts with."""
    port = free_port()
    env = {**os.environ, "AIGC_HOME": str(Path(tmp) / "home"), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--db", db, *args]

    def limit_open_files() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    with open(Path(tmp) / "app.log", "w") as log:
        start = limit_open_files if open_files else None
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=start)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_until_up(url, proc)
            yield url, proc
        finally:
            stop_server(proc)


def stored_ratings(db: str) -> dict[tuple[int, str], float]:
    """(sample id, rater) → score as the database holds them after a run (checked against what clients were told)."""
    from feedback_db import FeedbackStore

    with FeedbackStore(db, upgrade=False) as store:
        return {
            (r.sample_id, r.rater_id): r.score
            for version in store.list_versions()
            for r in store.ratings_for_lineage(version.id, include_ancestors=False)
        }


def person(url: str, model: str, until: float, seed: int, out: dict, lock: threading.Lock) -> None:
    """One client: sample 4, decode one of them, rate two, sometimes change its mind."""
    from gradio_client import Client

    rng = random.Random(seed)
    client = Client(url, verbose=False, download_files=False)
    times: dict[str, list[float]] = {"sample": [], "decode": [], "rate": []}
    told: dict[tuple[int, str], float] = {}
    errors: list[str] = []
    while time.monotonic() < until:
        try:
            t0 = time.perf_counter()
            _, info = client.predict(model, 4, rng.randrange(10**6), 0, api_name="/sample")
            times["sample"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.predict(model, info["latents"][rng.randrange(4)], api_name="/decode")
            times["decode"].append(time.perf_counter() - t0)
            for sample_id in rng.sample(info["sample_ids"], 2):
                score = rng.choice([1.0, -1.0])
                for _ in range(2 if rng.random() < 0.25 else 1):  # changing one's mind: the last score counts
                    t0 = time.perf_counter()
                    result = client.predict(sample_id, score, api_name="/rate")
                    times["rate"].append(time.perf_counter() - t0)
                    told[(sample_id, result["rater"])] = result["score"]
                    score = -score
        except Exception as exc:  # noqa: BLE001 - counted, reported
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    with lock:
        for name, values in times.items():
            out["times"][name] += values
        out["told"].update(told)
        out["errors"] += errors


def run(clients: int, seconds: float, model: str | None, models_dir: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="aigc-load-") as tmp:
        if model is None and models_dir is None:
            models_dir, model = str(tiny_models(Path(tmp))), "tiny-vae"
        db = f"sqlite:///{tmp}/load.sqlite3"
        out: dict = {"times": {"sample": [], "decode": [], "rate": []}, "told": {}, "errors": []}
        with app_process(tmp, db, *(["--models", models_dir] if models_dir else [])) as (url, _):
            lock = threading.Lock()
            until = time.monotonic() + seconds
            threads = [threading.Thread(target=person, args=(url, model, until, i, out, lock)) for i in range(clients)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
        stored = stored_ratings(db)
    told = out["told"]
    missing = [k for k, score in told.items() if stored.get(k) != score]
    result = {
        "benchmark": "ui_load",
        "model": model,
        "clients": clients,
        "seconds": round(wall, 1),
        "samples": len(out["times"]["sample"]) * 4,
        "decodes": len(out["times"]["decode"]),
        "rate_calls": len(out["times"]["rate"]),
        "ratings": len(told),
        "errors": len(out["errors"]),
        "missing_ratings": len(missing),
    }
    for name, values in out["times"].items():
        if values:
            result[f"{name}_p50_ms"] = round(percentile(values, 0.5) * 1000, 1)
            result[f"{name}_p95_ms"] = round(percentile(values, 0.95) * 1000, 1)
    result["requests_per_s"] = round(sum(len(v) for v in out["times"].values()) / wall, 1)
    if out["errors"]:
        result["first_errors"] = sorted(set(out["errors"]))[:3]
    result["pass"] = not out["errors"] and not missing and len(told) > 0
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--model", help="model to sample (default: a tiny VAE trained on the spot)")
    p.add_argument("--models", help="folder of checkpoints")
    args = p.parse_args(argv)
    result = run(args.clients, args.seconds, args.model, args.models)
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
