"""Idle connections from one address against the server's open-files limit; prints ONE JSON line per run.

Every connection is an open file of the server's process, and it accepts nothing once they run out. The
app runs as its own process (`python app.py`, the shipped models, a temporary SQLite database and AIGC_HOME)
started with a soft limit of `--soft` open files (1,024 is the usual default) and, in turn, a hard limit
equal to it (nothing to raise: the server as it was before it raised its own limit) and the machine's hard
limit. A script opens `--idle` TCP connections from 127.0.0.2 and never sends a byte (they cost it nothing);
then one honest person asks for the page's config from 127.0.0.3 every 0.5 s for `--seconds`. Reported: the
honest requests answered and failed, and how many of the idle connections the server still held at the end.

    python benchmarks/idle_connections.py [--idle 1100] [--soft 1024] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ui_load import app_process

IDLE_ADDRESS, HONEST_ADDRESS = "127.0.0.2", "127.0.0.3"


def still_open(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the server has not closed."""
    alive = 0
    for s in sockets:
        s.setblocking(False)
        try:
            alive += s.recv(1) != b""
        except BlockingIOError:  # nothing to read, not closed
            alive += 1
        except OSError:
            pass
    return alive


def run(idle: int, soft: int, hard: int, seconds: float) -> dict:
    import httpx

    with tempfile.TemporaryDirectory(prefix="aigc-idle-") as tmp:
        args = ["--no-warm-up"]
        with app_process(tmp, f"sqlite:///{tmp}/idle.sqlite3", *args, open_files=(soft, hard)) as (url, _):
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            sockets = []
            try:
                for _ in range(idle):
                    s = socket.socket()
                    s.bind((IDLE_ADDRESS, 0))
                    s.connect(("127.0.0.1", port))
                    sockets.append(s)
                time.sleep(2)
                answered, failed = 0, 0
                transport = httpx.HTTPTransport(local_address=HONEST_ADDRESS)
                with httpx.Client(transport=transport, timeout=5) as client:
                    until = time.monotonic() + seconds
                    while time.monotonic() < until:
                        try:
                            answered += client.get(f"{url}config").status_code == 200
                        except httpx.HTTPError:
                            failed += 1
                        time.sleep(0.5)
                held = still_open(sockets)
            finally:
                for s in sockets:
                    s.close()
    return {
        "benchmark": "idle_connections",
        "server_open_files": [soft, hard],
        "idle_connections": idle,
        "honest_answered": answered,
        "honest_failed": failed,
        "idle_still_held": held,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--idle", type=int, default=1100, help="idle connections the script holds")
    p.add_argument("--soft", type=int, default=1024, help="the server's soft limit of open files at start")
    p.add_argument("--seconds", type=float, default=15.0, help="how long the honest person asks")
    args = p.parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < args.idle + 100:
        raise SystemExit(f"error: this machine's hard limit of open files ({hard}) leaves no room for the test")
    for server_hard in (args.soft, hard):  # before: nothing to raise; now: raised to the machine's hard limit
        print(json.dumps(run(args.idle, args.soft, server_hard, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
