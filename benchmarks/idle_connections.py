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

`--slow-body --addresses 10` is the script the head deadline cannot stop: whole request heads with a body
(`Content-Length` 100,000, under the 4 MB limit) that then comes a byte every 4 s, a request being answered,
spread over 10 addresses so that no address reaches its cap. Three runs: hard = soft and the guard without
its cap for all visitors together (`--connections-max 0`); the same with it (its default, three quarters of
the open-files limit); the machine's hard limit and the guard as shipped.

    python benchmarks/idle_connections.py [--idle 1100] [--soft 1024] [--seconds 25] [--trickle]
    python benchmarks/idle_connections.py --slow-body --addresses 10
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

HONEST_ADDRESS = "127.0.0.3"


def script_addresses(count: int) -> list[str]:
    """The script's addresses: 127.0.0.2, then 127.0.1.x (the honest person's 127.0.0.3 is not among them)."""
    return ["127.0.0.2", *(f"127.0.1.{i}" for i in range(1, count))]


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


SLOW_BODY_HEAD = (
    b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
    b"content-length: 100000\r\n\r\n{"
)


def trickle(sockets: list[socket.socket], stop: threading.Event, slow_body: bool) -> None:
    """Keep every connection's request unfinished: a request line, then one header line every 4 s; or
    (`slow_body`) a whole head, then one byte of its body every 4 s."""
    for s in sockets:
        with contextlib.suppress(OSError):
            s.sendall(SLOW_BODY_HEAD if slow_body else b"GET /config HTTP/1.1\r\nHost: x\r\n")
    n = 0
    while not stop.wait(4.0):
        n += 1
        for s in sockets:
            with contextlib.suppress(OSError):  # closed by the server
                s.sendall(b" " if slow_body else f"X-Slow-{n}: 1\r\n".encode())


def run(
    idle: int, soft: int, hard: int, seconds: float, guard: bool, script: str, addresses: int, total_cap: bool
) -> dict:
    import httpx

    with tempfile.TemporaryDirectory(prefix="aigc-idle-") as tmp:
        args = ["--no-warm-up"] + ([] if guard else ["--connections-max-each", "0", "--request-head-seconds", "0"])
        args += [] if guard and total_cap else ["--connections-max", "0"]  # the cap is part of the guard
        with app_process(tmp, f"sqlite:///{tmp}/idle.sqlite3", *args, open_files=(soft, hard)) as (url, _):
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            sockets: list[socket.socket] = []
            stop = threading.Event()
            sources = script_addresses(addresses)
            try:
                for i in range(idle):
                    s = socket.socket()
                    s.bind((sources[i % len(sources)], 0))
                    s.connect(("127.0.0.1", port))
                    sockets.append(s)
                if script != "silent":
                    threading.Thread(target=trickle, args=(sockets, stop, script == "slow-body"), daemon=True).start()
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
        "visitors_total_cap": guard and total_cap,
        "script": script,
        "script_addresses": addresses,
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
    p.add_argument("--slow-body", action="store_true", help="whole request heads, then a body a byte every 4 s")
    p.add_argument("--addresses", type=int, default=1, help="addresses the script's connections come from")
    args = p.parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < args.idle + 100:
        raise SystemExit(f"error: this machine's hard limit of open files ({hard}) leaves no room for the test")
    script = "slow-body" if args.slow_body else "trickle" if args.trickle else "silent"
    if args.slow_body:  # the cap for all visitors together off, then on; then as shipped
        runs = ((args.soft, True, False), (args.soft, True, True), (hard, True, True))
    else:  # before either fix; the guard alone; the open-files limit raised alone; both (as shipped)
        runs = ((args.soft, False, True), (args.soft, True, True), (hard, False, True), (hard, True, True))
    for server_hard, guard, total_cap in runs:
        line = run(args.idle, args.soft, server_hard, args.seconds, guard, script, args.addresses, total_cap)
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
