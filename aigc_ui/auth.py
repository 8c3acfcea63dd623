"""Login throttling for `--auth`: failed logins lock the user name and the client address out for a while.

Gradio 6 checks a login in its `POST /login` route (gradio/routes.py): the form's `username` and
`password` against the `auth` list (or an `auth(user, password)` callable, which is never told the
client's address) and answers 200 or 400 "Incorrect credentials." Throttling therefore sits in
front of that route as an ASGI middleware (`LoginGuard`, installed through `launch(app_kwargs=
{"middleware": ...})`): it sees the address (the socket's peer, never a spoofable header), reads
the user name from the form, refuses a locked-out user or address with 429 and one line saying
when to try again, and otherwise lets Gradio check the password (its constant-time comparison)
and books the answer.

Every attempt is counted *before* the password is checked and cleared only by a success, so 500
concurrent guesses cannot all slip through before the first failure is booked. Beyond
`free_attempts` misses a key (user or address) is locked for `base_lock_s`, doubling with each
further miss up to `max_lock_s`; a key forgets its misses after `forget_after_s` without one.
A success clears that user's misses (not the address's: one valid account must not unlock an
address that is guessing others' passwords). The right password works again as soon as the lock
ends. State is per process (a restarted or second replica starts afresh): enough to turn a
full-speed guesser into a few guesses per lock period.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aigc.service.studio import address_key


def address_of(address: str) -> str:
    """ "address X" as every per-address meter counts it (an IPv6 one by its /64: quotas.address_key); this
    machine's too, by itself: a throttle has no reason to spare the owner's wrong passwords."""
    return address_key(address) or f"address {address}"


@dataclass(frozen=True)
class ThrottleSettings:
    """How hard to throttle failed logins (per user name and per client address)."""

    free_attempts: int = 5  # misses allowed before the first lock
    base_lock_s: float = 2.0  # first lock; doubles with each further miss
    max_lock_s: float = 300.0  # longest lock
    forget_after_s: float = 900.0  # a key with no miss for this long starts afresh
    max_keys: int = 100_000  # memory bound: the oldest keys are dropped beyond this


@dataclass
class _Misses:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    before: tuple[float, float] = (0.0, 0.0)  # (locked_until, last) before the latest attempt: a success undoes it


@dataclass
class LoginThrottle:
    """The bookkeeping, free of HTTP: `check` before a login (counts it as a miss), `succeeded` after a right one.

    Attempts 1..free_attempts go ahead freely; the next one goes ahead too but locks the key for
    `base_lock_s`, and each miss after a lock doubles it.
    """

    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, _Misses] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def keys(user: str, address: str) -> tuple[str, str]:
        return f"user:{user.strip().lower()}", f"addr:{address_of(address)}"

    def check(self, user: str, address: str) -> str | None:
        """None if the attempt may proceed (and count it as a miss until it succeeds), else why not."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            for key in self.keys(user, address):
                misses = self._keys.get(key)
                if misses and misses.locked_until > now:
                    wait = max(1, math.ceil(misses.locked_until - now))
                    who = f"user {user!r}" if key.startswith("user:") else address_of(address)
                    return f"Too many failed logins for {who}; try again in {wait} s."
            for key in self.keys(user, address):
                self._miss(key, now)
            return None

    def succeeded(self, user: str, address: str) -> None:
        """The password was right: forget the user's misses, and take this attempt back from the address whole:
        its count, the lock it set and its time. Taking back the count alone left the lock this attempt set (after
        someone's typos, every right password from that address locked the next person out) and restarted the
        address's forgetting clock at every login. The address keeps the misses it had: one valid account must
        not reset an address that is guessing other names."""
        user_key, addr_key = self.keys(user, address)
        with self._lock:
            self._keys.pop(user_key, None)
            misses = self._keys.get(addr_key)
            if misses:
                misses.count = max(0, misses.count - 1)
                misses.locked_until, misses.last = misses.before
                if misses.count <= self.settings.free_attempts:
                    misses.locked_until = 0.0

    def locked_for(self, user: str, address: str) -> float:
        """Seconds until this user or address may try again (0 if free)."""
        now = self.clock()
        with self._lock:
            return max([0.0] + [m.locked_until - now for k in self.keys(user, address) if (m := self._keys.get(k))])

    def _miss(self, key: str, now: float) -> None:
        s = self.settings
        misses = self._keys.setdefault(key, _Misses())
        misses.before = (misses.locked_until, misses.last)
        misses.count += 1
        misses.last = now
        over = misses.count - s.free_attempts - 1  # this attempt still goes ahead; the next ones wait
        if over >= 0:
            misses.locked_until = now + min(s.max_lock_s, s.base_lock_s * 2.0 ** min(over, 60))

    def _prune(self, now: float) -> None:
        s = self.settings
        stale = [k for k, m in self._keys.items() if m.locked_until <= now and now - m.last > s.forget_after_s]
        for key in stale:
            del self._keys[key]
        if len(self._keys) > s.max_keys:
            for key in sorted(self._keys, key=lambda k: self._keys[k].last)[: len(self._keys) - s.max_keys]:
                del self._keys[key]


MAX_LOGIN_BODY = 64 * 1024  # a login form is a few dozen bytes


class LoginGuard:
    """ASGI middleware around Gradio's `POST /login`: throttles by user name and client address."""

    def __init__(self, app, throttle: LoginThrottle | None = None):
        self.app = app
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        body, too_big = b"", False
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                too_big = True
                break
            if not message.get("more_body"):
                break
        if too_big:
            await reply(send, 413, "Login form too large.")
            return
        user = await _username(scope, body)
        address = (scope.get("client") or ("unknown", 0))[0]
        refused = self.throttle.check(user, address)
        if refused:
            await reply(send, 429, refused)
            return
        status: list[int] = []

        replayed = False

        async def replay():  # the form once, then the real channel (a disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, watch)
        if status and status[0] < 300:
            self.throttle.succeeded(user, address)


async def _username(scope, body: bytes) -> str:
    """The form's `username`, urlencoded (gradio_client, curl) or multipart (the login page's FormData)."""
    from starlette.requests import Request

    async def once():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form()
        value = form.get("username")
        return value.strip() if isinstance(value, str) else ""
    except Exception:  # noqa: BLE001 - a malformed form is a miss for the address, never a crash
        return ""


async def reply(send, code: int, text: str) -> None:
    payload = json.dumps({"detail": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def login_message(settings: ThrottleSettings | None = None) -> str:
    """The login page's standing note. Gradio's page answers every refusal with "Incorrect Credentials", a
    lock included (the 429's own words never reach it): a person typing the right password during a lock
    thought it wrong, so the note says what a lock looks like, and that a restart logs everyone out."""
    s = settings or ThrottleSettings()
    return (
        f"AIGC Studio: log in to rate as yourself. After {s.free_attempts} wrong passwords, logins for that name "
        f"or from that address pause: {s.base_lock_s:g} s at first, longer with each further miss, at most "
        f'{s.max_lock_s / 60:g} min. Meanwhile this page answers "Incorrect Credentials" even to the right '
        "password: wait, then try again. A restart of the studio asks everyone to log in again."
    )


def guard_kwargs(throttle: LoginThrottle) -> dict:
    """`launch(**guard_kwargs(t))`: installs LoginGuard in the FastAPI app Gradio creates."""
    return {"app_kwargs": {"middleware": [login_middleware(throttle)]}}


def login_middleware(throttle: LoginThrottle):
    from starlette.middleware import Middleware

    return Middleware(LoginGuard, throttle=throttle)
