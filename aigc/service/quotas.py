"""Quotas for shared deployments: how many images, uploads and fine-tune runs one person (and everyone
together) may ask for in a time window.

Generating is cheap per image but not free; a fine-tune run takes minutes of every core. Without a
meter one visitor can take the machine for everyone. Each kind of work has a per-person limit and a
deployment-wide limit over a sliding window; a request that would exceed either is refused whole,
with one line that says which limit and when to try again, and costs nothing. Calls without a
person (the CLI, tests, the studio itself) are not metered, nor are admins' per-person counts.

An anonymous person is whoever their browser (or their API session) says they are, so a script can be
a new person on every request and never meet a per-person limit. Their address cannot be minted so
cheaply (an IPv6 one can, within the /64 network a host is usually given, so that network is the
address here: `address_key`): a `Requester` carries it, and images and fine-tuning runs are also
metered per address. Not for logins (a login cannot be minted, and many people may share one office
address), nor for this machine's own address (`LOCAL_ADDRESSES`): that is the owner's scripts, or a
proxy or tunnel that did not say whose request it forwards, and one meter for all its visitors would
shut them out together.

State is per process: a second replica meters its own visitors (the deployment limit is then per
replica). Memory is bounded: one deque entry per charge, pruned to the window, and keys with
nothing left in the window are dropped.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields

DEPLOYMENT = "*"
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"})


class Requester(str):
    """A person's id, the text their ratings are stored under, that also carries the address the request
    came from (None for a login and for calls that are not requests). A `str`, so every layer that stores or
    compares raters is unchanged; only `Quotas` reads the address."""

    address: str | None

    def __new__(cls, person: str, address: str | None = None) -> Requester:
        self = super().__new__(cls, person)
        self.address = address
        return self


IPV6_PREFIX = 64  # an IPv6 host is usually given a whole /64 and may use any of its 2**64 addresses


def address_key(address: str | None) -> str | None:
    """The per-address meter's key for a client's address, or None when it is not metered by address
    (this machine's own, or none)."""
    group = one_host(address) if address else None  # `::ffff:127.0.0.1` is 127.0.0.1: one check covers both
    return None if group is None or group in LOCAL_ADDRESSES else "address " + group


def one_host(address: str) -> str:
    """What one client host holds: an IPv4 address, or the /64 network of an IPv6 one.

    Why not the address as it comes: an IPv6 host can pick a new address for every connection within its
    /64 (privacy addresses do it by themselves), so a script would be a new visitor each time; the /64 is
    what one host holds. An IPv4 address written as IPv6 (`::ffff:10.1.2.3`) is that IPv4 address; what is
    not an IP address (a Unix socket's peer, a test client's name) is itself.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local address may carry a zone ("%eth0")
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_loopback:
            return str(ip)  # ::1, however written: this machine, one address
        host_bits = 128 - IPV6_PREFIX
        return f"{ipaddress.IPv6Address(int(ip) >> host_bits << host_bits)}/{IPV6_PREFIX}"
    return str(ip)


@dataclass(frozen=True)
class QuotaSettings:
    """Limits per window; 0 turns a limit off. Each field is also an `aigc serve --quota-…` flag."""

    samples_per_minute: int = field(default=600, metadata={"help": "images one person may have generated"})
    samples_per_minute_total: int = field(default=3000, metadata={"help": "images all visitors together"})
    samples_per_minute_per_address: int = field(
        default=1200, metadata={"help": "images all anonymous visitors from one address together"}
    )
    samples_reserve_per_minute: int = field(
        default=600,
        metadata={"help": "images beyond the total kept for light visitors (at most 64 in their minute)"},
    )
    ratings_per_minute: int = field(default=600, metadata={"help": "ratings one person may give"})
    ratings_per_minute_total: int = field(default=12000, metadata={"help": "ratings all visitors together"})
    ratings_per_minute_per_address: int = field(
        default=1200, metadata={"help": "ratings all anonymous visitors from one address together"}
    )
    uploads_per_minute: int = field(default=10, metadata={"help": "files one person (or address) may upload"})
    uploads_per_minute_total: int = field(default=60, metadata={"help": "files all visitors together"})
    finetunes_per_hour: int = field(default=3, metadata={"help": "fine-tuning runs one person may start"})
    finetunes_per_hour_total: int = field(default=20, metadata={"help": "fine-tuning runs all visitors together"})
    finetunes_per_hour_per_address: int = field(
        default=10, metadata={"help": "fine-tuning runs all anonymous visitors from one address together"}
    )


@dataclass(frozen=True)
class Kind:
    """One kind of metered work: the QuotaSettings fields that limit it, its window, what it counts."""

    person: str  # the per-person limit's field
    total: str  # the deployment's
    per_address: str | None  # anonymous visitors' per address; None for uploads (aigc_ui.meter charges an address)
    window_s: float
    unit: str
    reserve: str | None = None  # the field of what is kept beyond the total for light users
    light: int = 0  # at most this much in one's own window (and one's address's) is light use


KINDS: dict[str, Kind] = {
    "samples": Kind("samples_per_minute", "samples_per_minute_total", "samples_per_minute_per_address", 60.0,
                    "images per minute", "samples_reserve_per_minute", 64),
    "ratings": Kind("ratings_per_minute", "ratings_per_minute_total", "ratings_per_minute_per_address", 60.0,
                    "ratings per minute"),
    "uploads": Kind("uploads_per_minute", "uploads_per_minute_total", None, 60.0, "uploads per minute"),
    "finetunes": Kind("finetunes_per_hour", "finetunes_per_hour_total", "finetunes_per_hour_per_address", 3600.0,
                      "fine-tuning runs per hour"),
}  # fmt: skip


class QuotaExceeded(ValueError):
    """A request over a quota: the message is one line meant for the person who asked."""


@dataclass
class Quotas:
    """Sliding-window meters, thread-safe. `charge` books work or raises QuotaExceeded (booking nothing)."""

    settings: QuotaSettings = field(default_factory=QuotaSettings)
    clock: Callable[[], float] = time.monotonic
    _used: dict[tuple[str, str], deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, kind: str, who: str | None, amount: int = 1, exempt: bool = False) -> None:
        """Book `amount` of `kind` for `who` (None: not metered). `exempt` skips the per-person limit (admins)."""
        if who is None or amount <= 0:
            return
        window, unit = KINDS[kind].window_s, KINDS[kind].unit
        limits = self._limits(kind, who, exempt)
        now = self.clock()
        with self._lock:
            reserve = self._reserve_for(kind, limits, amount, now, window)
            for key, limit, scope in limits:
                if not limit:
                    continue
                limit += reserve if key == DEPLOYMENT else 0
                used = self._window(kind, key, now, window)
                total = sum(n for _, n in used)
                if total + amount > limit:
                    raise QuotaExceeded(self._refusal(used, total, amount, limit, now, window, unit, scope))
            for key, limit, _ in limits:
                if limit:
                    self._used.setdefault((kind, key), deque()).append((now, amount))

    def _reserve_for(self, kind: str, limits: list, amount: int, now: float, window: float) -> int:
        """What beyond the deployment's total a light user may draw on (the caller holds the lock).

        Why: three addresses each at their own limit spent the studio's 3,000 images a minute, and then a
        visitor asking for 4 was refused for a minute with everyone else. A reserve kept for those whose own
        use (and their address's) stays light still serves them; a heavy user never reaches it, and many
        addresses reach it only a light share each."""
        meter = KINDS[kind]
        if not meter.reserve or not meter.light:
            return 0
        own = [key for key, limit, _ in limits if key != DEPLOYMENT and limit]
        if not own:  # no meter of one's own (an admin, or per-person limits off): nothing says the use is light
            return 0
        if any(sum(n for _, n in self._window(kind, key, now, window)) + amount > meter.light for key in own):
            return 0
        return getattr(self.settings, meter.reserve)

    def _limits(self, kind: str, who: str, exempt: bool) -> list[tuple[str, int, str]]:
        """(meter key, limit, words) for each meter a charge of `kind` by `who` must fit: the deployment's,
        and unless `exempt` the person's and, for an anonymous person, their address's."""
        meter = KINDS[kind]
        limits = [(DEPLOYMENT, getattr(self.settings, meter.total), "for this whole studio")]
        if exempt:
            return limits
        limits.insert(0, (who, getattr(self.settings, meter.person), "per person"))
        address = address_key(getattr(who, "address", None))
        if address and meter.per_address:
            limits.insert(1, (address, getattr(self.settings, meter.per_address), "from one address"))
        return limits

    def refund(self, kind: str, who: str | None, amount: int = 1, exempt: bool = False) -> None:
        """Take back the newest charge of `amount` (work that was booked but never done)."""
        if who is None:
            return
        with self._lock:
            for key, _, _ in self._limits(kind, who, exempt):
                used = self._used.get((kind, key)) or deque()
                for i in range(len(used) - 1, -1, -1):
                    if used[i][1] == amount:
                        del used[i]
                        break

    def used(self, kind: str, who: str) -> int:
        """How much of `kind` `who` (or DEPLOYMENT) has used in the current window."""
        with self._lock:
            return sum(n for _, n in self._window(kind, who, self.clock(), KINDS[kind].window_s))

    def _window(self, kind: str, key: str, now: float, window: float) -> deque:
        used = self._used.get((kind, key), deque())
        while used and used[0][0] <= now - window:
            used.popleft()
        if not used:
            self._used.pop((kind, key), None)
            if len(self._used) > 10_000:  # many one-off sessions: drop every key with an empty window
                for k in [k for k, d in self._used.items() if d and d[-1][0] <= now - KINDS[k[0]].window_s]:
                    del self._used[k]
        return used

    @staticmethod
    def _refusal(used: deque, total: int, amount: int, limit: int, now: float, window: float, unit: str, scope) -> str:
        if amount > limit:
            return f"Quota: at most {limit} {unit} {scope}; ask for fewer (you asked for {amount})."
        freed, wait = total + amount - limit, window
        for when, n in used:  # the oldest charges leave the window first
            freed -= n
            if freed <= 0:
                wait = when + window - now
                break
        return f"Quota: at most {limit} {unit} {scope}; try again in {max(1, math.ceil(wait))} s."


def add_quota_flags(parser: argparse.ArgumentParser) -> None:
    """One `--quota-<field>` flag per QuotaSettings field (defaults from the dataclass)."""
    group = parser.add_argument_group("quotas (per person and for the whole deployment; 0 = no limit)")
    for f in fields(QuotaSettings):
        flag = "--quota-" + f.name.replace("_", "-")
        group.add_argument(
            flag, type=zero_or_more, default=f.default, metavar="N", help=f"{f.metadata['help']} (default {f.default})"
        )


def zero_or_more(text: str) -> int:
    """A quota flag's value: argparse's error line names the flag (exit 2) for anything else."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, got {value}")
    return value


def quota_settings(args: argparse.Namespace) -> QuotaSettings:
    return QuotaSettings(**{f.name: getattr(args, "quota_" + f.name) for f in fields(QuotaSettings)})
