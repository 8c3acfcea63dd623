"""Idle and trickling connections from one address against the server; prints ONE JSON line per run.

Every connection is an open file of the server's process, and it accepts nothing once they run out. The
app runs as its own process (`python app.py`, the shipped models, a temporary SQLite database and AIGC_HOME)
started with a soft limit of `--soft` open files (1,024 is the usual default). Four runs, side by side:
  1. hard limit = soft limit (nothing to raise) and the connection guard off (`--connections-max-each 0
     --request-head-seconds 0`): the server as it was before either fix;
  2. the same limit, the guard at its defaults (aigc_ui.connection_guard);
  3. the machine's hard limit (the server raises its soft limit to it, aigc_ui.startup), guard off;
  4. the machine's hard limit and the guard: the server as shipped.
A script opens `--idle` TCP connections from 127.0.0.2 that never send a byte (they cost it nothing), or with
`--trickle` that send a request line and then one header line every 4 s, never ending the request; then
one honest person asks for the page's config from 127.0.0.3 every 0.5 s for `--seconds`. Reported: the
honest requests answered and failed, and how many of the script's connections the server still held at the
end (the guard's deadline for a request's head is 20 s, so `--seconds` should be longer).

    python benchmarks/idle_connections.py [--idle 1100] [--soft 1024] [--seconds 25] [--trickle]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import socket
import sys
import tempfile
import threading
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
            while s.recv(65536):  # what the server sent first (a refusal's 429) is read past
                pass
        except BlockingIOError:  # nothing (more) to read, not closed
            alive += 1
        except OSError:  # reset by the server
            pass
    return alive


def trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Keep every connection's request unfinished: a request line, then one header line every 4 s."""
    for s in sockets:
        with contextlib.suppress(OSError):
            s.sendall(b"GET /config HTTP/1.1\r\nHost: x\r\n")
    n = 0
    while not stop.wait(4.0):
        n += 1
        for s in sockets:
            with contextlib.suppress(OSError):  # closed by the server
                s.sendall(f"X-Slow-{n}: 1\r\n".encode())


def run(idle: int, soft: int, hard: int, seconds: float, guard: bool, trickling: bool) -> dict:
    import httpx

    with tempfile.TemporaryDirectory(prefix="aigc-idle-") as tmp:
        args = ["--no-warm-up"] + ([] if guard else ["--connections-max-each", "0", "--request-head-seconds", "0"])
        with app_process(tmp, f"sqlite:///{tmp}/idle.sqlite3", *args, open_files=(soft, hard)) as (url, _):
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            sockets: list[socket.socket] = []
            stop = threading.Event()
            try:
                for _ in range(idle):
                    s = socket.socket()
                    s.bind((IDLE_ADDRESS, 0))
                    s.connect(("127.0.0.1", port))
                    sockets.append(s)
                if trickling:
                    threading.Thread(target=trickle, args=(sockets, stop), daemon=True).start()
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
                stop.set()
                held = still_open(sockets)
            finally:
                stop.set()
                for s in sockets:
                    s.close()
    return {
        "benchmark": "idle_connections",
        "server_open_files": [soft, hard],
        "connection_guard": guard,
        "script": "trickle" if trickling else "silent",
        "idle_connections": idle,
        "seconds": seconds,
        "honest_answered": answered,
        "honest_failed": failed,
        "idle_still_held": held,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--idle", type=int, default=1100, help="idle connections the script holds")
    p.add_argument("--soft", type=int, default=1024, help="the server's soft limit of open files at start")
    p.add_argument("--seconds", type=float, default=25.0, help="how long the honest person asks")
    p.add_argument("--trickle", action="store_true", help="the script's connections trickle an unending request")
    args = p.parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < args.idle + 100:
        raise SystemExit(f"error: this machine's hard limit of open files ({hard}) leaves no room for the test")
    # before either fix; the guard alone; the open-files limit raised alone; both (as shipped)
    for server_hard, guard in ((args.soft, False), (args.soft, True), (hard, False), (hard, True)):
        print(json.dumps(run(args.idle, args.soft, server_hard, args.seconds, guard, args.trickle)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
