"""Starting the server: every way it can fail at start is one clear line and a non-zero exit, never a traceback;
once up, a few lines of its own saying where the page is and what it serves (`banner`).

Why a module: the three ways a start failed were a 128-line traceback (the database folder read-only),
Gradio's port scan error wrapped in a traceback (the port in use), and Gradio's "localhost is not
accessible, set share=True" on a busy host. The last one is spurious: Gradio sends one HEAD request to
the page with a 3 s timeout and gives up on the first timeout, while a host loaded by another app (or a
second studio starting at the same moment) can take longer to render the first page. We skip that check
(`_frontend=False`, its only effect) and do our own: patient (up to `reachable_within` s), without the
environment's HTTP proxy (which is what usually hides localhost), and only a warning if it never answers,
since the server itself is running.
"""

from __future__ import annotations

import os
import socket
import sys
import time

try:
    import resource  # POSIX only
except ImportError:  # pragma: no cover - Windows: no such limit to raise
    resource = None  # type: ignore[assignment]
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from aigc.service.studio import Studio

REACHABLE_WITHIN_S = 60.0
RETRY_EVERY_S = 0.5  # between the checks of `reachable`
BANNER_MODELS = 8  # models the start lines name; a shared deployment may hold hundreds of fine-tunes
MAX_OPEN_FILES = 1_048_576  # the most open files asked for (macOS refuses an unlimited soft limit)


def fail(message: str) -> SystemExit:
    """Exit status 2 with one line on stderr (SystemExit(str) would exit 1 and print the same)."""
    print(f"aigc serve: error: {message}", file=sys.stderr)
    return SystemExit(2)


AT_LEAST = {  # `aigc serve` flags that count something, and the least each may be
    **dict.fromkeys(["finetune_slots", "queue_max", "queue_max_each", "moves_max_each"], 1),
    **dict.fromkeys(["finetune_line", "connections_max_each", "connections_max", "request_head_seconds"], 0),
    **dict.fromkeys(["min_free_disk_mb", "threads"], 0),  # --threads 0: torch's own choice
    "port": 1,
}
AT_MOST = {"port": 65535}


def check_counts(args: Any) -> None:
    """Exit status 2 with one line naming the first count flag out of its range (None: its default)."""
    for name, least in AT_LEAST.items():
        value = getattr(args, name)
        if value is not None and value < least:
            raise fail(f"--{name.replace('_', '-')} must be at least {least}, got {value:g}")
    for name, most in AT_MOST.items():
        value = getattr(args, name)
        if value is not None and value > most:
            raise fail(f"--{name.replace('_', '-')} must be at most {most}, got {value:g}")


def raise_open_files_limit() -> int | None:
    """Let the server hold as many connections as the system allows it: the soft limit of open files up to
    the hard one. Returns the limit now in force (None where there is none to read).

    Why: every connection is an open file, and the server accepts nothing once they run out. Under the usual
    soft limit of 1,024, one address holding 1,100 idle connections (they cost it nothing) left the page
    unreachable for everyone (benchmarks/idle_connections.py); the hard limit is what the system allows.
    """
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # a system that refuses: keep the limit it gave
            pass
    return soft


def models_folder(folder: Path) -> None:
    """`--models DIR`: a folder, made when missing (fine-tuned versions are saved there), or one line and exit 2.

    Why at start: a mistyped folder was served as an empty one without a word, and the first fine-tune then
    failed to save there, minutes later."""
    if folder.exists() and not folder.is_dir():
        raise fail(f"--models {folder}: not a folder (give the folder that holds the .safetensors checkpoints)")
    if not folder.exists():
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise fail(f"--models {folder}: no such folder, and it cannot be made ({exc.strerror})") from None
        print(f"note: --models {folder} did not exist; made it (fine-tuned versions are saved there)", file=sys.stderr)
    elif not os.access(folder, os.W_OK):
        print(f"warning: --models {folder} is read-only: fine-tuned versions cannot be saved there", file=sys.stderr)


def open_studio(db: str | None, models: str | None, device: str | None, threads: int | None) -> Studio:
    """Studio.open, or one line saying which part could not be opened and what to do."""
    from feedback_db import FeedbackError, masked_url  # the page may name the database's error type

    if models:
        models_folder(Path(models))
    try:
        return Studio.open(db, models, device, threads=threads)
    except (FeedbackError, OSError) as exc:
        where = masked_url(Studio.database_url(db))  # the URL actually tried: --db, $AIGC_DB_URL or the home's file
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        path = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        raise fail(
            f"cannot open or write the database {where}: {reason}{path}. "
            "Make its folder writable, or pass --db with a writable SQLite path or a postgresql:// URL"
        ) from None
    except ValueError as exc:  # StudioError, DeviceError: e.g. --device cuda on a CPU-only torch
        raise fail(str(exc)) from None


def listen_name(host: str) -> str:
    """`--host` as Gradio takes it, or one line and exit 2 when this machine cannot listen there.

    Why: Gradio writes the name into the page's URLs as it is, so an IPv6 address needs its brackets
    (`::` alone crashed the start with an "Invalid port" traceback); and a name or address this machine
    does not have made every port of Gradio's scan fail, reported as "in use".
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        family, kind, proto, _, address = socket.getaddrinfo(bare, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(
            f"--host {host}: cannot listen there ({reason}); use 127.0.0.1 (this machine only), 0.0.0.0 or :: "
            "(every interface) or an address of this machine"
        ) from None
    return f"[{bare}]" if ":" in bare else bare


def reachable(url: str, within_s: float = REACHABLE_WITHIN_S, head: Callable | None = None) -> bool:
    """Does the page answer (any status but 5xx) within `within_s`? Timeouts are retried, not fatal."""
    head = head or (lambda u: httpx.head(u, timeout=5.0, trust_env=False))
    deadline = time.monotonic() + within_s
    while True:
        try:
            if head(url).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(RETRY_EVERY_S)


def launch(demo, *, block: bool, reachable_within_s: float = REACHABLE_WITHIN_S, **kwargs) -> None:
    """demo.launch with one-line failures; blocks (like Gradio) when `block`."""
    port = kwargs.get("server_port")
    try:
        demo.launch(prevent_thread_lock=True, _frontend=False, **kwargs)
    except OSError as exc:
        which = f"port {port} is not" if port else "no port from 7860 to 7959 is"
        raise fail(
            f"{which} free on {kwargs.get('server_name') or '127.0.0.1'} ({exc.strerror or 'in use'}): "
            "stop the other server or pick another with --port"
        ) from None
    if not reachable(demo.local_url, reachable_within_s):
        print(
            f"aigc serve: warning: {demo.local_url} did not answer within {reachable_within_s:.0f} s "
            "(a busy host?); still serving",
            file=sys.stderr,
        )
    if block:
        demo.block_thread()


def banner(
    local_url: str,
    *,
    host: str,
    models: list[tuple[str, str]],
    database: str,
    logins: int,
    share_asked: bool,
    share_url: str | None,
) -> list[str]:
    """What a person needs to know once the page is up, in a few lines on stdout.

    Why ours: Gradio's own start lines end with "To create a public link, set `share=True` in
    `launch()`", advice for someone writing Gradio code, not for someone who ran `python app.py`
    (the flag is `--share`, and it should go with `--auth`). So the launch is quiet
    (`launch_kwargs`) and this says where the page is, what it serves, where ratings go, who may
    rate and how a public link is had.
    """
    every = host.strip("[]") in ("0.0.0.0", "::")
    reach = " (every interface: other machines on the network can open it too)" if every else ""
    local_url = local_url.replace("//[::]:", "//[::1]:")  # `::` is where it listens, not an address to open
    lines = [f"AIGC Studio is serving at {local_url}{reach}"]
    if models:
        named = ", ".join(f"{name} ({kind})" for name, kind in models[:BANNER_MODELS])
        more = (
            f" and {len(models) - BANNER_MODELS} more (the Feedback & models tab lists them)"
            if len(models) > BANNER_MODELS
            else ""
        )
        lines.append(f"  models: {named}{more}")
    else:
        lines.append("  models: none found (pass --models DIR, a folder of AIGC Studio .safetensors checkpoints)")
    lines.append(f"  ratings are stored in: {database}")
    if logins:
        lines.append(f"  logins: required ({logins} user{'s' if logins != 1 else ''}; each rates as themselves)")
    else:
        lines.append("  logins: off (each browser rates as its own anonymous id; --auth USER:PASS requires a login)")
    if share_url:
        who = "a login required" if logins else "NO login: anyone with the link can sample and rate"
        lines.append(f"  public link: {share_url} (temporary; {who})")
    elif share_asked:
        lines.append("  public link: none (see the line above); serving locally only")
    else:
        with_auth = "" if logins else "; add --auth"
        lines.append(f"  public link: off (--share asks Gradio for a temporary one: it needs internet{with_auth})")
    lines.append("  Ctrl-C stops the server.")
    return lines
