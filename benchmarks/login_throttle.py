"""Login throttling measured: a password guesser against `aigc serve --auth`, over real HTTP; prints ONE JSON line.

The app runs in this process (`aigc_ui.server.serve`, the shipped models, a temporary SQLite database
and AIGC_HOME, a free port on 127.0.0.1). A guesser posts wrong passwords for one user to `/login` as
fast as the server answers, `--attempts` times (bounded), then keeps guessing for `--seconds` more.
Reported: how long the attempts took, how many reached Gradio's password check (HTTP 400) and how many
were refused unchecked (429), the checks during the extra seconds, and whether the right password is
refused during the lock (429, with the wait) and accepted once the lock has ended (waited for, bounded
by the lock the server names).

    python benchmarks/login_throttle.py [--attempts 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attempts", type=int, default=500)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with tempfile.TemporaryDirectory() as home:
        os.environ["AIGC_HOME"] = home
        from aigc_ui import server as app
        from tests.app.helpers import free_port

        flags = ["--auth", "ann:secret", "--port", str(free_port()), "--db", f"sqlite:///{home}/db.sqlite"]
        demo, studio = app.serve(app.parse_args(flags), block=False)
        try:
            url = demo.local_url + "login"
            with httpx.Client(timeout=30) as http:
                t0 = time.perf_counter()
                codes = [
                    http.post(url, data={"username": "ann", "password": f"g{i}"}).status_code
                    for i in range(args.attempts)
                ]
                burst_s = time.perf_counter() - t0
                later, deadline = [], time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    later.append(http.post(url, data={"username": "ann", "password": "nope"}).status_code)
                    time.sleep(0.05)
                during = http.post(url, data={"username": "ann", "password": "secret"})
                wait = (
                    int(re.search(r"try again in (\d+) s", during.json().get("detail", "")).group(1))
                    if during.status_code == 429
                    else 0
                )
                time.sleep(wait + 0.5)
                after = http.post(url, data={"username": "ann", "password": "secret"})
        finally:
            demo.close()
            studio.close()
    print(json.dumps({
        "attempts": args.attempts,
        "burst_seconds": round(burst_s, 2),
        "checked": codes.count(400),
        "refused_unchecked": codes.count(429),
        "extra_seconds": args.seconds,
        "extra_attempts": len(later),
        "extra_checked": later.count(400),
        "right_password_during_lock": during.status_code,
        "lock_named_s": wait,
        "right_password_after_lock": after.status_code,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
