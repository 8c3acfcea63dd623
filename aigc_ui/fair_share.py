"""A fair share of the server per visitor: requests waiting in the queue, and explorer moves in flight.

Gradio's queue takes at most `--queue-max` waiting requests from everyone together (aigc_ui.server), which
keeps a flood from holding the server's memory but not from shutting everyone else out: one script that
keeps the queue full has every other visitor told "Queue is full" while it lasts (benchmarks/queue_flood.py).
The explorer's slider moves do not go through the queue (a server function of the view: one POST to
`…/component_server`, run in the same pool of threads as every handler), so a flood of them would take
that pool instead. So each visitor has a share of both: `--queue-max-each` requests waiting in the queue,
`SERVER_CALLS_EACH` server-function calls in flight (the page itself sends one move at a time).

A visitor is a login by its name, else an address: a script can be a new session on every request but not
a new address. Requests from this machine's own address (aigc.service.quotas.LOCAL_ADDRESSES: the owner's
scripts, or a proxy or tunnel that did not say whose request it forwards) have no share of their own; the
queue's total bound still holds for them.

Counted against the queue share: the visitor's requests waiting in Gradio's queue, and their joins still
being taken (so a burst of joins sent at once cannot all pass before the first is queued). Over a share:
429 with one line, which the page shows; the request body is never read. The waiting requests are read from
Gradio's own queue (`gradio.queueing.Queue`, not a public API: if its shape changes, nothing is counted,
and tests/app/test_fair_share.py fails).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from typing import Any

from aigc.service.studio import address_key

from .auth import reply
from .meter import login_of

QUEUE_MAX_EACH = 16  # waiting requests per visitor: a page load queues 4; a person clicks faster than it runs
SERVER_CALLS_EACH = 8  # server-function calls in flight per visitor: one per open explorer tab
JOIN_PATH = re.compile(r"/(queue/join|call/(v2/)?[^/]+)/?$")  # the page's and the REST API's ways into the queue
SERVER_CALL_PATH = re.compile(r"/component_server/?$")


def busy_line(words: str, held: int, what: str, most: int, advice: str) -> str:
    """The one line a visitor over a share reads (the queue's and explorer's here, connections' in
    aigc_ui.connection_guard)."""
    return f"Busy: {words} already has {held} {what} (at most {most}); {advice}."


def share_key(login: str | None, address: str | None) -> str | None:
    """Whose share a request counts against: the login's, else the (non-local) address's, else none."""
    if login:
        return "login " + login
    return address_key(address)


def waiting_per_visitor(app: Any) -> Counter:
    """How many requests each visitor has waiting in Gradio's queue now (read from the queue itself, so a
    request that finished, failed or was cancelled is never counted)."""
    blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
    queue = getattr(blocks, "_queue", None)
    counts: Counter = Counter()
    for line in getattr(queue, "event_queue_per_concurrency_id", {}).values():
        for event in line.queue:
            client = getattr(event.request, "client", None)
            key = share_key(event.username, getattr(client, "host", None))
            if key:
                counts[key] += 1
    return counts


class FairShare:
    """ASGI middleware: refuse a queue join from a visitor with `queue_each` requests waiting, and a server
    function call from one with `calls_each` calls in flight."""

    def __init__(self, app, queue_each: int = QUEUE_MAX_EACH, calls_each: int = SERVER_CALLS_EACH):
        self.app = app
        self.queue_each, self.calls_each = queue_each, calls_each
        self.joining: Counter = Counter()  # joins being taken, per visitor
        self.calling: Counter = Counter()  # server-function calls running, per visitor

    async def __call__(self, scope, receive, send):
        joins = calls = False
        if scope["type"] == "http" and scope["method"] == "POST":
            joins, calls = bool(JOIN_PATH.search(scope["path"])), bool(SERVER_CALL_PATH.search(scope["path"]))
        key = share_key(login_of(scope), (scope.get("client") or (None, 0))[0]) if joins or calls else None
        if key is None:
            await self.app(scope, receive, send)
            return
        words = "your login" if key.startswith("login ") else "your address"
        if joins:
            counter, held, most = self.joining, waiting_per_visitor(scope.get("app"))[key], self.queue_each
            what = "requests waiting in the queue"
        else:
            counter, held, most = self.calling, 0, self.calls_each
            what = "explorer moves being made"
        held += counter[key]
        if held >= most:
            text = busy_line(words, held, what, most, "try again when they are done")
            await reply(send, 429, text)
            return
        counter[key] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            counter[key] -= 1
            if not counter[key]:
                del counter[key]


def fair_share_middleware(queue_each: int = QUEUE_MAX_EACH, calls_each: int = SERVER_CALLS_EACH):
    from starlette.middleware import Middleware

    return Middleware(FairShare, queue_each=queue_each, calls_each=calls_each)


def add_share_flags(p: argparse.ArgumentParser) -> None:
    """`aigc serve --queue-max-each N --moves-max-each N`."""
    p.add_argument(
        "--queue-max-each",
        type=int,
        default=QUEUE_MAX_EACH,
        metavar="N",
        help=f"requests one visitor (a login, else an address other than this machine's) may have waiting in the "
        f"queue (default {QUEUE_MAX_EACH}), so that one visitor cannot fill it for everyone",
    )
    p.add_argument(
        "--moves-max-each",
        type=int,
        default=SERVER_CALLS_EACH,
        metavar="N",
        help=f"explorer moves one visitor may have in flight (default {SERVER_CALLS_EACH}; a page sends one at a time)",
    )
