"""A REST call to an endpoint that does not exist, or for a result that is not there, gets a 404 and one line.

Gradio answered `POST …/call/nosuch` with HTTP 500 "Internal Server Error" and a traceback in the server's log
(`FnIndexInferError`), and `GET …/call/sample/EVENT` for an event id it never gave (or whose result was read
already) with a reply cut off halfway and "response already started" in the log. A caller who mistyped a name
or an id should read what went wrong, and the owner's log should not fill with tracebacks a stranger can cause.

The event ids are read from Gradio's own queue (`gradio.queueing.Queue`, not a public API, as
aigc_ui.fair_share reads it): if its shape changes, every id passes through as before, and
tests/app/test_unknown_calls.py fails.
"""

from __future__ import annotations

import re
from typing import Any

from .auth import reply

CALL_PATH = re.compile(r"/gradio_api/call/(?:v2/)?(?P<name>[^/]+)(?:/(?P<event>[^/]+))?/?$")


def endpoint_names(blocks: Any) -> tuple[set[str], list[str]] | None:
    """(every API name Gradio looks a call up by, the public ones in order: what the refusal lists), or None when
    `blocks` does not say: then nothing is refused."""
    fns = getattr(blocks, "fns", None)
    if fns is None:
        return None
    named = [fn for fn in (fns.values() if isinstance(fns, dict) else fns) if getattr(fn, "api_name", None)]
    public = sorted(fn.api_name for fn in named if getattr(fn, "api_visibility", "public") == "public")
    return {fn.api_name for fn in named}, public


def event_known(blocks: Any, event_id: str) -> bool:
    """Whether Gradio's queue still holds `event_id` (waiting, running, or its result not yet read); True when
    the queue's shape is not the one this reads, so that a Gradio upgrade refuses nothing."""
    queue = getattr(blocks, "_queue", None)
    events = getattr(queue, "event_ids_to_events", None)
    pending = getattr(queue, "pending_event_ids_session", None)
    if not isinstance(events, dict) or not isinstance(pending, dict):
        return True
    return event_id in events or any(event_id in ids for ids in pending.values())


class UnknownCalls:
    """ASGI middleware: 404 and one line for a REST call to a name no endpoint has, or for an event id the
    queue does not hold."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = CALL_PATH.search(scope["path"]) if scope["type"] == "http" else None
        app = scope.get("app")
        blocks = app.get_blocks() if match and hasattr(app, "get_blocks") else None
        if blocks is not None:
            assert match is not None
            names, name, event = endpoint_names(blocks), match["name"][:100], match["event"]  # echoed: bounded
            if names is not None and name not in names[0]:
                listed = ", ".join("/" + n for n in names[1])
                await reply(send, 404, f"no endpoint /{name}; the endpoints are {listed}")
                return
            if scope["method"] == "GET" and event and not event_known(blocks, event):
                await reply(
                    send, 404, f"no call {event[:100]} of /{name} is waiting or running, or its result was read already"
                )
                return
        await self.app(scope, receive, send)


def unknown_calls_middleware():
    from starlette.middleware import Middleware

    return Middleware(UnknownCalls)
