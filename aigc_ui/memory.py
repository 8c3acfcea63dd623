"""Memory a burst of requests frees goes back to the system, instead of staying with the server for good.

Why: a 64-image batch allocates and frees hundreds of megabytes in the threads that serve it, and glibc's
malloc keeps what is freed for reuse: scattered over one arena per thread that allocated at once (up to 8 per
core) and returned to the system only when the top of a heap happens to be free. Under bursts of 24 such
requests sent at once from new sessions (`benchmarks/burst_memory.py`) the server grew by 100–250 MB a burst
and never came back down (the outside probe of 2026-12-06: past 2 GB). Two glibc knobs fix it: at most
`MALLOC_ARENAS` arenas, and `malloc_trim(0)` every `TRIM_EVERY_S` seconds from a daemon thread, which hands
every free page back. Both are no-ops where the C library is not glibc (musl, macOS).

`AIGC_MALLOC_ARENAS` and `AIGC_MALLOC_TRIM_S` set them (0: off, glibc's own behaviour, as the benchmark
compares); `MALLOC_ARENA_MAX` in the environment, which glibc reads itself at start, wins over the first.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from threading import Thread

M_ARENA_MAX = -8  # glibc's mallopt parameter for the most arenas
MALLOC_ARENAS = 2
TRIM_EVERY_S = 5.0  # a trim takes milliseconds; every few seconds keeps a burst's leftovers from piling up


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist: glibc, not musl
    except (OSError, AttributeError):
        return None
    return libc


def _setting(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def tame_malloc() -> dict[str, float]:
    """Limit malloc's arenas and start the trimming thread, as the environment allows; returns what was set
    ({"arenas": 2, "trim_every_s": 5.0}, empty where nothing could be). Called once as the server starts,
    before its handler threads allocate."""
    libc = _glibc()
    if libc is None:
        return {}
    done: dict[str, float] = {}
    arenas = int(_setting("AIGC_MALLOC_ARENAS", MALLOC_ARENAS))
    if arenas > 0 and not os.environ.get("MALLOC_ARENA_MAX") and libc.mallopt(M_ARENA_MAX, arenas):
        done["arenas"] = arenas
    every = _setting("AIGC_MALLOC_TRIM_S", TRIM_EVERY_S)
    if every > 0:
        every = max(every, 0.1)  # an owner's typo of 0.0001 should not become a busy loop

        def trim() -> None:
            while True:
                time.sleep(every)
                libc.malloc_trim(0)

        Thread(target=trim, name="aigc-malloc-trim", daemon=True).start()
        done["trim_every_s"] = every
    return done
