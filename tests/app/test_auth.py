"""Login throttling with --auth: growing locks per user name and per client address, over real HTTP.

The clock is a hand-moved counter, so no test waits for a lock to end or depends on timing.
"""

from __future__ import annotations

import httpx
import pytest

from aigc_ui.auth import LoginThrottle, ThrottleSettings, guard_kwargs
from tests.app.helpers import running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(**settings) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    return LoginThrottle(ThrottleSettings(**settings), clock=clock), clock


def test_misses_beyond_the_free_ones_lock_the_user_with_a_doubling_lock():
    t, clock = _throttle(free_attempts=3, base_lock_s=2.0, max_lock_s=5.0)
    for _ in range(4):  # 3 free + the one that sets the first lock
        assert t.check("ann", "10.0.0.1") is None
    refused = t.check("ann", "10.0.0.2")  # another address: the user name is locked too
    assert refused and "user 'ann'" in refused and "try again in 2 s" in refused
    clock.now += 2.01
    assert t.check("ann", "10.0.0.3") is None  # lock over; this miss doubles the next lock
    assert t.locked_for("ann", "10.0.0.3") == pytest.approx(4.0)
    clock.now += 4.01
    assert t.check("ann", "10.0.0.4") is None
    assert t.locked_for("ann", "10.0.0.4") == pytest.approx(5.0)  # capped at max_lock_s


def test_the_right_password_clears_the_user_and_an_address_guessing_many_names_is_locked():
    t, clock = _throttle(free_attempts=2, base_lock_s=10.0)
    for _ in range(2):
        assert t.check("ann", "10.0.0.1") is None
    t.succeeded("ann", "10.0.0.1")  # a typo or two, then the right password: nothing held against ann
    assert t.locked_for("ann", "10.0.0.1") == 0
    for name in ("bob", "cid", "dee"):  # spraying names from one address
        assert t.check(name, "10.0.0.9") is None
    refused = t.check("eve", "10.0.0.9")
    assert refused and "address 10.0.0.9" in refused
    assert t.check("eve", "10.0.0.8") is None  # eve herself is not locked

    # an IPv6 host may use any address of its /64: spraying names from new addresses of one /64 is one address
    for i, name in enumerate(("fay", "gus", "hal"), start=1):
        assert t.check(name, f"2001:db8:7:7::{i}") is None
    refused = t.check("ivy", "2001:db8:7:7:abcd::9")
    assert refused and "address 2001:db8:7:7::/64" in refused
    assert t.check("ivy", "2001:db8:7:8::1") is None  # the next /64 is another host


def test_keys_are_forgotten_and_bounded():
    t, clock = _throttle(free_attempts=1, base_lock_s=1.0, forget_after_s=60.0, max_keys=10)
    for i in range(50):
        t.check(f"user{i}", f"10.0.{i}.1")
    assert len(t._keys) <= 12  # bounded (pruned on the next check)
    clock.now += 120
    t.check("zed", "10.9.9.9")
    assert set(t._keys) == set(t.keys("zed", "10.9.9.9"))


def _login(url: str, user: str, password: str, address: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=30) as http:
        return http.post(url + "login", data={"username": user, "password": password})


@pytest.mark.heavy  # an app server of its own
def test_500_wrong_passwords_over_http_mostly_refused_unchecked_and_the_right_one_works_after(studio):
    throttle, clock = _throttle(free_attempts=5, base_lock_s=30.0)
    with running(studio, auth=[("ann", "secret"), ("bob", "pw")], **guard_kwargs(throttle)) as demo:
        url = demo.local_url
        assert _login(url, "ann", "secret").status_code == 200
        codes = []
        with httpx.Client(timeout=30) as http:
            for i in range(500):
                codes.append(http.post(url + "login", data={"username": "ann", "password": f"guess{i}"}).status_code)
        checked = codes.count(400)  # Gradio compared the password
        assert checked == 6 and codes.count(429) == 494, codes[:10]
        refused = _login(url, "ann", "secret")  # even the right password waits for the lock to end
        assert refused.status_code == 429 and "try again in 30 s" in refused.json()["detail"]
        other = _login(url, "bob", "pw", address="127.0.0.2")  # bob from elsewhere is not held up
        assert other.status_code == 200
        clock.now += 31
        ok = _login(url, "ann", "secret", address="127.0.0.3")
        assert ok.status_code == 200 and any(c.startswith("access-token") for c in ok.cookies)


@pytest.mark.heavy  # an app server of its own
def test_multipart_login_form_is_throttled_too(studio):
    """The login page posts FormData (multipart), not a urlencoded form."""
    throttle, _ = _throttle(free_attempts=1, base_lock_s=30.0)
    with running(studio, auth=[("ann", "secret")], **guard_kwargs(throttle)) as demo:
        codes = [
            httpx.post(demo.local_url + "login", files={"username": (None, "ann"), "password": (None, "x")}).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 429, 429]
        assert throttle.locked_for("ann", "10.1.1.1") > 0  # keyed by the user name read from the multipart form


@pytest.mark.heavy  # an app server of its own
def test_serve_with_auth_installs_the_guard_and_without_auth_does_not(models_dir, db_url):
    from aigc.service.studio import QueueSettings
    from aigc_ui import server as app
    from aigc_ui.auth import LoginGuard
    from tests.app.helpers import free_port

    line = ["--finetune-slots", "3", "--finetune-line", "5"]
    for flags, guarded in ((["--auth", "ann:secret"], True), (line, False)):
        args = app.parse_args([*flags, "--port", str(free_port()), "--db", db_url, "--models", str(models_dir)])
        demo, studio = app.serve(args, block=False)
        try:
            assert any(m.cls is LoginGuard for m in demo.app.user_middleware) is guarded
            summary = httpx.get(demo.local_url + "monitoring/summary", timeout=10)
            assert summary.status_code in (401, 403)  # no one's traffic figures for anyone (before: 200 without --auth)
            if guarded:  # the login page's note says what a lock looks like there (its only words: "Incorrect…")
                note = httpx.get(demo.local_url + "config", timeout=10).json()["detail"]["auth_message"]
                assert "After 5 wrong passwords" in note and '"Incorrect Credentials" even to the right' in note
            slots = (3, 5) if not guarded else (1, 20)  # the line's flags reach the studio's queue
            assert studio.queue.settings == QueueSettings(concurrency=slots[0], max_queued=slots[1])
        finally:
            demo.close()
            studio.close()


def test_after_someones_typos_a_right_password_never_locks_the_next_person_at_that_address():
    """An office behind one address: ann mistypes six times, then everyone logs in with the right password."""
    t, clock = _throttle(free_attempts=5, base_lock_s=2.0, forget_after_s=900.0)
    for _ in range(6):
        assert t.check("ann", "10.0.0.1") is None
    clock.now += 3  # ann's lock is over
    for name in ("ann", "bob", "root", "bob", "cid"):  # right passwords, one after another
        assert t.check(name, "10.0.0.1") is None, name
        t.succeeded(name, "10.0.0.1")
        assert t.locked_for("dee", "10.0.0.1") == 0  # nobody is locked by someone else's right password
    clock.now += 900.5  # no miss for the forgetting time, logins or not: the address starts afresh
    assert t.check("eve", "10.0.0.1") is None
    t._prune(clock.now)
    assert t._keys["addr:address 10.0.0.1"].count == 1  # only eve's attempt: the six typos are forgotten
    for _ in range(2):  # the address still counts misses: a valid account does not reset a guessing address
        assert t.check("eve", "10.0.0.2") is None
    t.succeeded("eve", "10.0.0.2")
    assert t._keys["addr:address 10.0.0.2"].count == 1
