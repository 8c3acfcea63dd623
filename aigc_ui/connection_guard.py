"""Connections that never become requests: a deadline for each request's head, and a cap per address.

Why: the server (uvicorn, started by Gradio) keeps a connection that never sends a byte for as long as the
client keeps it, and one that sends its request a byte every few seconds as well: it times out only the
idle time *between* two requests. Such connections cost a script nothing, and every one is an open file of
the server: 1,100 of them from one address once left the page unreachable for everyone
(benchmarks/idle_connections.py). Raising the open-files limit (aigc_ui.startup) moved that wall, it did
not remove it. So the server's HTTP protocol here adds two rules, both at the connection level, before any
request exists:

- **A deadline for a request's head** (`ConnectionLimits.request_head_s`): a connection must have sent a
  whole request line and headers within that many seconds of opening, or of its previous response; else it
  is closed. A request being answered is never cut (the queue's event streams stay open for minutes, and an
  upload's body may be slow): the deadline is for the head only, which a browser sends in one packet.
- **A cap per address** (`ConnectionLimits.per_address`): connections open at once from one client
  address. A browser opens about six per site; a class behind one address, a few hundred. Over the cap the
  new connection gets a 429 with one line and is closed. Addresses not capped: this machine's
  (aigc.service.quotas.LOCAL_ADDRESSES: the owner's scripts, or a proxy here) and the proxies uvicorn
  trusts (`FORWARDED_ALLOW_IPS`), whose connections carry many visitors.

How: Gradio builds its uvicorn server with the default protocol ("auto"); `install` points uvicorn's "auto"
at `GuardedProtocol`, uvicorn's own protocol class with these rules added. That entry is uvicorn's table of
protocol names (`uvicorn.config.HTTP_PROTOCOLS`), not a promise of Gradio's: if either stops reading it,
tests/app/test_connection_guard.py fails.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from aigc.service.studio import address_key

from .fair_share import busy_line

REQUEST_HEAD_S = 20.0  # seconds a connection has to send a request's head; a browser takes milliseconds
CONNECTIONS_EACH = 256  # connections open at once per address; a browser opens ~6 per site
REFUSED_WAIT_S = 1.0  # how long a refused connection may take to send the request its 429 answers (~3 round trips)


@dataclass(frozen=True)
class ConnectionLimits:
    """The two rules; 0 turns one off. Each server keeps the limits installed when it started."""

    request_head_s: float = REQUEST_HEAD_S
    per_address: int = CONNECTIONS_EACH


def trusted_proxy(host: str, forwarded_allow_ips: Any) -> bool:
    """Whether uvicorn trusts `host` as a proxy (`FORWARDED_ALLOW_IPS`: addresses and networks, or `*`)."""
    entries = forwarded_allow_ips.split(",") if isinstance(forwarded_allow_ips, str) else forwarded_allow_ips
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (str(e).strip() for e in entries or ()):
        if entry == "*" or entry == host:
            return True
        if address is not None and "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def busy_response(held: int, most: int) -> bytes:
    """A whole HTTP response, written before the request is read (the client reads it when it reads)."""
    data = (busy_line("your address", held, "connections open", most, "close some and try again") + "\n").encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(data)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + data


class GuardedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (h11 or httptools, whichever uvicorn picks) with the module's two rules."""

    limits = ConnectionLimits()  # `install` makes a subclass with the limits it is given
    _counted: str | None = None  # the address this connection is counted under
    _refused = False  # over the cap: answered with a 429, closed once its request has come
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        key = address_key(host)
        if key and self.limits.per_address and not trusted_proxy(host or "", self.config.forwarded_allow_ips):
            open_now = per_address(self.server_state)
            if open_now[key] >= self.limits.per_address:
                self._refuse(busy_response(open_now[key], self.limits.per_address))
                return
            open_now[key] += 1
            self._counted = key
        self._arm_head_deadline()

    def _refuse(self, response: bytes) -> None:
        """Answer before the request is read, then close once it has come (or after `REFUSED_WAIT_S`): closing
        with the request unread would have the client's system reset the connection, and the client might then
        never read the answer."""
        self._refused = True
        self.transport.write(response)
        self.loop.call_later(REFUSED_WAIT_S, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self.transport.close()  # the request, read and dropped: the answer is already on its way
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, *args: Any) -> None:
        """The connection now belongs to a WebSocket protocol (which uvicorn counts no more either)."""
        self._release()
        super().handle_websocket_upgrade(*args)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()  # the next request's head is due in as long again

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self.limits.request_head_s and not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(self.limits.request_head_s, self._close_unless_answering)

    def _close_unless_answering(self) -> None:
        self._head_deadline = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering and self.transport.get_protocol() is self and not self.transport.is_closing():
            self.transport.close()

    def _release(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self._counted:
            open_now = per_address(self.server_state)
            open_now[self._counted] -= 1
            if open_now[self._counted] <= 0:
                del open_now[self._counted]
            self._counted = None


def per_address(server_state: Any) -> Counter:
    """The server's count of open connections per address (kept on uvicorn's per-server state, so two servers
    in one process, as in the tests, count their own)."""
    counts = getattr(server_state, "aigc_connections_per_address", None)
    if counts is None:
        counts = server_state.aigc_connections_per_address = Counter()
    return counts


INSTALLED: type[GuardedProtocol] = GuardedProtocol  # what uvicorn's "auto" names once `install` has run


def install(limits: ConnectionLimits) -> None:
    """Make the uvicorn servers this process starts from now on (Gradio's) use `GuardedProtocol` with `limits`.

    A server reads the protocol class once, as it starts: it keeps these limits whatever is installed later."""
    from uvicorn import config

    global INSTALLED
    INSTALLED = type("GuardedProtocol", (GuardedProtocol,), {"limits": limits})
    config.HTTP_PROTOCOLS["auto"] = f"{__name__}:INSTALLED"


@contextmanager
def installed(limits: ConnectionLimits) -> Iterator[None]:
    """`install` for the servers started inside the block (an app embedded in a program, the tests), which
    keep it after; servers started later get what the process had before."""
    from uvicorn import config

    global INSTALLED
    saved = INSTALLED, config.HTTP_PROTOCOLS["auto"]
    install(limits)
    try:
        yield
    finally:
        INSTALLED, config.HTTP_PROTOCOLS["auto"] = saved


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    """`aigc serve --connections-max-each N --request-head-seconds S`."""
    p.add_argument(
        "--connections-max-each",
        type=int,
        default=CONNECTIONS_EACH,
        metavar="N",
        help=f"connections one address other than this machine's (or a trusted proxy's) may hold open at once "
        f"(default {CONNECTIONS_EACH}; a browser opens about 6; 0: no cap)",
    )
    p.add_argument(
        "--request-head-seconds",
        type=float,
        default=REQUEST_HEAD_S,
        metavar="S",
        help=f"seconds a connection has to send a request's head before it is closed (default {REQUEST_HEAD_S:g}; "
        "0: no deadline); a request being answered is never cut",
    )
