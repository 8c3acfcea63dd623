"""A fair share of the page's queue: one visitor may have only so many requests waiting in it.

Gradio's queue takes at most `--queue-max` waiting requests from everyone together (aigc_ui.server), which
keeps a flood from holding the server's memory but not from shutting everyone else out: one script that
keeps the queue full has every other visitor told "Queue is full" while it lasts (benchmarks/queue_flood.py).
So each visitor also has a share, `--queue-max-each`: a login by its name; an anonymous visitor by address,
since a script can be a new session on every request but not a new address. Requests from this machine's
own address (aigc.service.quotas.LOCAL_ADDRESSES: the owner's scripts, or a proxy or tunnel that did not say
whose request it forwards) have no share of their own; the queue's total bound still holds for them.

Counted against the share: the visitor's requests waiting in Gradio's queue, and their joins still being
taken (so a burst of joins sent at once cannot all pass before the first is queued). Over the share: 429
with one line, which the page shows; the request body is never read. The waiting requests are read from
Gradio's own queue (`gradio.queueing.Queue`, not a public API: if its shape changes, nothing is counted,
and tests/app/test_queue_share.py fails).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from aigc.service.studio import address_key

from .auth import reply
from .meter import login_of

QUEUE_MAX_EACH = 16  # waiting requests per visitor: a page load queues a handful; a person clicks faster than it
JOIN_PATH = re.compile(r"/(queue/join|call/[^/]+)/?$")  # the page's and the REST API's ways into the queue


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


class QueueShare:
    """ASGI middleware: refuse a join to the queue from a visitor who already has `each` requests waiting."""

    def __init__(self, app, each: int = QUEUE_MAX_EACH):
        self.app = app
        self.each = each
        self.joining: Counter = Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not JOIN_PATH.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = share_key(login_of(scope), (scope.get("client") or (None, 0))[0])
        if key is None:
            await self.app(scope, receive, send)
            return
        held = waiting_per_visitor(scope.get("app"))[key] + self.joining[key]
        if held >= self.each:
            words = "your login" if key.startswith("login ") else "your address"
            await reply(
                send,
                429,
                f"Busy: {words} already has {held} requests waiting in the queue (at most {self.each}); "
                "try again when they are done.",
            )
            return
        self.joining[key] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.joining[key] -= 1
            if not self.joining[key]:
                del self.joining[key]


def queue_share_middleware(each: int = QUEUE_MAX_EACH):
    from starlette.middleware import Middleware

    return Middleware(QueueShare, each=each)
