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
  address (an IPv6 one by its /64: aigc.service.quotas.address_key). A browser opens about six per site; a
  class behind one address, a few hundred. Over the cap the new connection gets a 429 with one line and is
  closed. Addresses not capped: this machine's (aigc.service.quotas.LOCAL_ADDRESSES: the owner's scripts,
  or a proxy here) and the proxies uvicorn trusts (`FORWARDED_ALLOW_IPS`), whose connections carry many
  visitors.
- **A cap for all visitors together** (`ConnectionLimits.total`): the same connections, all addresses
  together. A request being answered is never cut, and an upload whose body trickles in is one, so a
  script on many addresses could still spend every open file of the process; then the server accepts
  nothing, the owner's connections included, and the studio cannot open its database or a checkpoint.
  `aigc serve` keeps a quarter of the open-files limit out of the visitors' reach (`visitor_share`). At
  the cap, a new connection takes the place of the oldest one of the address holding the most, if that
  address holds at least two more than the newcomer's (so a flood from many addresses cannot keep out an
  honest visitor); else it gets a 503 with one line and is closed. Not counted: as above. The server's log
  says when visitors reach the cap and when they leave it (`CapWatch`).

How: Gradio builds its uvicorn server with the default protocol ("auto"); `install` points uvicorn's "auto"
at `GuardedProtocol`, uvicorn's own protocol class with these rules added. That entry is uvicorn's table of
protocol names (`uvicorn.config.HTTP_PROTOCOLS`), not a promise of Gradio's: if either stops reading it,
tests/app/test_connection_guard.py fails.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from aigc.service.studio import address_key, announce

from .fair_share import busy_line

REQUEST_HEAD_S = 20.0  # seconds a connection has to send a request's head; a browser takes milliseconds
CONNECTIONS_EACH = 256  # connections open at once per address; a browser opens ~6 per site
REFUSED_WAIT_S = 1.0  # how long a refused connection may take to send the request its refusal answers (~3 round trips)
VISITORS_SHARE = 0.75  # of the open-files limit, what visitors' connections may hold (the rest: the studio's own)
CAP_LEFT = 0.9  # visitors have left the cap once they hold this share of it (a margin: one line each way)


@dataclass(frozen=True)
class ConnectionLimits:
    """The three rules; 0 turns one off. Each server keeps the limits installed when it started."""

    request_head_s: float = REQUEST_HEAD_S
    per_address: int = CONNECTIONS_EACH
    total: int = 0  # `aigc serve` sets it from the open-files limit (`visitor_share`)


def visitor_share(open_files: int | None) -> int:
    """The connections all visitors together may hold: three quarters of the process's open-files limit
    (None where the system has none to read: no cap)."""
    return int(open_files * VISITORS_SHARE) if open_files else 0


@dataclass
class CapWatch:
    """The owner's two lines about the cap for all visitors: when visitors reach it, and when they have left
    it, with what it did meanwhile. Why: at the cap only visitors see anything (a 503, or a connection of a
    busy address closed), and the owner would not know the studio is being flooded."""

    at_cap: bool = False
    moved: int = 0  # connections that gave their place to a newcomer
    refused: int = 0

    def reached(self, cap: int, moved: bool) -> None:
        if not self.at_cap:
            self.at_cap = True
            announce(
                f"visitors hold {cap} connections, the cap (--connections-max): a new one takes the place of "
                "the oldest connection of the address holding the most, or gets a 503 'Busy' line"
            )
        self.moved += moved
        self.refused += not moved

    def check_left(self, total: int, cap: int) -> None:
        if self.at_cap and total <= cap * CAP_LEFT:
            announce(
                f"visitors hold {total} of {cap} connections, below the cap again; meanwhile {self.moved} "
                f"gave their place to newcomers and {self.refused} were refused"
            )
            self.at_cap, self.moved, self.refused = False, 0, 0


@dataclass
class OpenConnections:
    """A server's counted connections, per address, oldest first, and the addresses by how many they hold.

    Why kept up to date rather than computed on demand: at the cap every new connection asks for the total
    and for the address holding the most, and a flood from thousands of addresses would make each of them
    pay for a pass over every address. Here each question is O(1) (the addresses are kept in buckets by
    count, the largest count tracked: it moves by at most one per change)."""

    by_address: dict[str, dict[Any, None]] = field(default_factory=dict)  # an ordered set of connections
    by_count: dict[int, dict[str, None]] = field(default_factory=dict)  # count → the addresses holding that many
    total: int = 0
    most: int = 0  # the most any address holds
    watch: CapWatch = field(default_factory=CapWatch)

    def held(self, key: str) -> int:
        return len(self.by_address.get(key, ()))

    def add(self, key: str, connection: Any) -> None:
        held = self.by_address.setdefault(key, {})
        self._move(key, len(held), len(held) + 1)
        held[connection] = None
        self.total += 1

    def remove(self, key: str, connection: Any) -> None:
        held = self.by_address.get(key)
        if held is not None and held.pop(connection, False) is None:
            self.total -= 1
            self._move(key, len(held) + 1, len(held))
            if not held:
                del self.by_address[key]

    def _move(self, key: str, before: int, after: int) -> None:
        if before:
            bucket = self.by_count[before]
            del bucket[key]
            if not bucket:
                del self.by_count[before]
        if after:
            self.by_count.setdefault(after, {})[key] = None
        self.most = max(self.most, after)
        while self.most and self.most not in self.by_count:
            self.most -= 1

    def oldest_of_the_heaviest(self, newcomer: str) -> Any | None:
        """When all visitors together are at the cap: the oldest connection of the address holding the most,
        if that address holds at least two more than `newcomer` does (so it gives one up and still holds as
        many as the newcomer then), else None. Max-min fairness: many addresses flooding together cannot
        keep out a visitor who holds fewer than they do."""
        if self.most < self.held(newcomer) + 2:
            return None
        heaviest = next(iter(self.by_count[self.most]))
        return next(iter(self.by_address[heaviest]))


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


def busy_response(held: int, most: int, everyone: bool = False) -> bytes:
    """A whole HTTP response, written before the request is read (the client reads it when it reads): 429
    for an address over its cap, 503 when all visitors together are (`everyone`)."""
    if everyone:
        status, extra = "503 Service Unavailable", "retry-after: 60\r\n"
        line = busy_line("the studio", held, "connections open from visitors", most, "try again in a minute")
    else:
        status, extra = "429 Too Many Requests", ""
        line = busy_line("your address", held, "connections open", most, "close some and try again")
    data = (line + "\n").encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n{extra}"
        f"content-length: {len(data)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + data


class GuardedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (h11 or httptools, whichever uvicorn picks) with the module's three rules."""

    limits = ConnectionLimits()  # `install` makes a subclass with the limits it is given
    _counted: str | None = None  # the address this connection is counted under
    _refused = False  # over a cap: answered (429 or 503), closed once its request has come
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        key = address_key(host)
        limits = self.limits
        if (
            key
            and (limits.per_address or limits.total)
            and not trusted_proxy(host or "", self.config.forwarded_allow_ips)
        ):
            open_now = open_connections(self.server_state)
            if limits.per_address and open_now.held(key) >= limits.per_address:
                self._refuse(busy_response(open_now.held(key), limits.per_address))
                return
            if limits.total and open_now.total >= limits.total:
                victim = open_now.oldest_of_the_heaviest(key)
                open_now.watch.reached(limits.total, moved=victim is not None)
                if victim is None:
                    self._refuse(busy_response(open_now.total, limits.total, everyone=True))
                    return
                victim.evict()
            open_now.add(key, self)
            self._counted = key
        self._arm_head_deadline()

    def evict(self) -> None:
        """Give this connection's place to a visitor holding fewer: closed at once, even mid-request (its
        address holds more than its share of a server at its cap)."""
        self._release(left_cap=False)  # its place is taken at once: visitors are still at the cap
        self.transport.abort()

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

    def _release(self, left_cap: bool = True) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self._counted:
            open_now = open_connections(self.server_state)
            open_now.remove(self._counted, self)
            self._counted = None
            if left_cap and self.limits.total:
                open_now.watch.check_left(open_now.total, self.limits.total)


def open_connections(server_state: Any) -> OpenConnections:
    """The server's count of open connections (kept on uvicorn's per-server state, so two servers in one
    process, as in the tests, count their own)."""
    counts = getattr(server_state, "aigc_open_connections", None)
    if counts is None:
        counts = server_state.aigc_open_connections = OpenConnections()
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


def limits_from(args: argparse.Namespace, open_files: int | None) -> ConnectionLimits:
    """The limits `aigc serve`'s flags ask for (`--connections-max` left out: `visitor_share(open_files)`)."""
    total = visitor_share(open_files) if args.connections_max is None else args.connections_max
    return ConnectionLimits(args.request_head_seconds, args.connections_max_each, total)


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    """`aigc serve --connections-max-each N --connections-max N --request-head-seconds S`."""
    p.add_argument(
        "--connections-max-each",
        type=int,
        default=CONNECTIONS_EACH,
        metavar="N",
        help=f"connections one address other than this machine's (or a trusted proxy's) may hold open at once "
        f"(default {CONNECTIONS_EACH}; a browser opens about 6; 0: no cap)",
    )
    p.add_argument(
        "--connections-max",
        type=int,
        default=None,
        metavar="N",
        help="connections all visitors together (every address but this machine's and trusted proxies') may "
        "hold open at once (default: three quarters of the process's open-files limit, so the studio keeps "
        "files for its database, its models and its owner; 0: no cap)",
    )
    p.add_argument(
        "--request-head-seconds",
        type=float,
        default=REQUEST_HEAD_S,
        metavar="S",
        help=f"seconds a connection has to send a request's head before it is closed (default {REQUEST_HEAD_S:g}; "
        "0: no deadline); a request being answered is never cut",
    )
