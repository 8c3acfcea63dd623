"""Connections that never become requests are not held, and one address cannot hold hundreds of them.

The server runs as Gradio launches it (its own uvicorn server), with `aigc_ui.connection_guard` installed as
`aigc serve` installs it (every page test's server has it too: tests/app/helpers.running). 127.0.0.2 stands
for another machine (every 127.x address reaches the server on Linux, and the server sees which one);
127.0.0.1 is this machine, which has no cap.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter

import gradio as gr
import httpx
import pytest
from uvicorn import config as uvicorn_config

from aigc_ui import connection_guard as guard
from aigc_ui import server as app
from aigc_ui.connection_guard import ConnectionLimits, busy_response, trusted_proxy
from tests.app.helpers import free_port

OTHER_MACHINE = "127.0.0.2"
WAIT_S = 20.0  # the most a test waits for the server to close a connection (the deadlines here are 1 s)


def test_the_proxies_uvicorn_trusts_are_not_capped():
    assert trusted_proxy("127.0.0.1", "127.0.0.1,::1") and not trusted_proxy("10.0.0.7", "127.0.0.1,::1")
    assert trusted_proxy("10.0.0.7", "127.0.0.1, 10.0.0.0/8") and trusted_proxy("10.0.0.7", ["10.0.0.7"])
    assert trusted_proxy("192.0.2.1", "*") and not trusted_proxy("192.0.2.1", "not-an-address, 10.0.0.0/8")
    assert not trusted_proxy("", "127.0.0.1")


def test_the_refusal_is_one_whole_http_response():
    head, _, body = busy_response(3, 3).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 ") and f"content-length: {len(body)}".encode() in head
    assert body.decode().startswith("Busy: your address already has 3 connections open (at most 3)")


def test_all_visitors_together_get_three_quarters_of_the_open_files_unless_the_flag_says():
    assert guard.visitor_share(20_000) == 15_000 and guard.visitor_share(1024) == 768 and guard.visitor_share(None) == 0
    flags = app.parse_args([])
    assert flags.connections_max is None and guard.limits_from(flags, 1024).total == 768
    assert guard.limits_from(app.parse_args(["--connections-max", "40"]), 1024).total == 40
    assert guard.limits_from(app.parse_args(["--connections-max", "0"]), 1024).total == 0  # no cap
    head, _, body = busy_response(7, 7, everyone=True).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"retry-after: 60" in head
    assert (
        body.decode()
        == "Busy: the studio already has 7 connections open from visitors (at most 7); try again in a minute.\n"
    )


def test_the_counts_of_open_connections_match_a_recount_after_every_change():
    """`OpenConnections` keeps its total, per-address sets and the largest count up to date (O(1) per
    question at the cap); a direct recount after each of 5,000 random opens and closes must agree."""
    rng = random.Random(0)
    counts, live = guard.OpenConnections(), []
    for _ in range(5000):
        if live and rng.random() < 0.45:
            key, connection = live.pop(rng.randrange(len(live)))
            counts.remove(key, connection)
        else:
            key, connection = f"address 10.0.0.{rng.randrange(30)}", object()
            counts.add(key, connection)
            live.append((key, connection))
        recount = Counter(key for key, _ in live)
        assert counts.total == len(live) and counts.most == max(recount.values(), default=0)
        assert {key: len(held) for key, held in counts.by_address.items()} == recount
    victim = counts.oldest_of_the_heaviest("address 192.0.2.1")  # a newcomer holding none
    owner = next(key for key, connection in live if connection is victim)
    assert recount[owner] == max(recount.values())  # an address holding the most (one of them, if tied)
    assert victim is next(connection for key, connection in live if key == owner)  # its oldest
    assert counts.oldest_of_the_heaviest(owner) is None  # never gives its place to itself


def test_installed_points_uvicorn_at_the_guard_for_the_block_only():
    before = uvicorn_config.HTTP_PROTOCOLS["auto"]
    limits = ConnectionLimits(request_head_s=3.0, per_address=5)
    with guard.installed(limits):
        assert uvicorn_config.HTTP_PROTOCOLS["auto"] == "aigc_ui.connection_guard:INSTALLED"
        assert issubclass(guard.INSTALLED, guard.GuardedProtocol) and guard.INSTALLED.limits is limits
    assert uvicorn_config.HTTP_PROTOCOLS["auto"] == before and guard.INSTALLED.limits is not limits


def launch_holding_page(release: threading.Event, limits: ConnectionLimits) -> gr.Blocks:
    """A page whose one endpoint answers only once `release` is set, its server guarded with `limits` (which
    it keeps after the block: Gradio has started it when `launch` returns)."""

    def hold(text: str) -> str:
        release.wait(60)
        return text

    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(hold, box, box, api_name="hold")
    with guard.installed(limits):
        demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True)
    return demo


def connect(url: str, address: str) -> socket.socket:
    host, port = url.split("//")[1].rstrip("/").split(":")
    s = socket.create_connection((host, int(port)), timeout=WAIT_S, source_address=(address, 0))
    return s


def closed_by_server_within(s: socket.socket, seconds: float) -> bool:
    """Whether the server closes `s` within `seconds` (reads and drops what it sends first)."""
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.heavy  # an app server of its own
def test_a_connection_that_never_sends_its_request_is_closed_and_one_being_answered_is_not():
    release = threading.Event()
    demo = launch_holding_page(release, ConnectionLimits(request_head_s=1.0, per_address=0))
    try:
        url = demo.local_url
        silent, slow = connect(url, OTHER_MACHINE), connect(url, OTHER_MACHINE)
        slow.sendall(b"GET /config HTTP/1.1\r\nHost: x\r\n")  # a request line and one header, never finished
        local = connect(url, "127.0.0.1")  # this machine's connections have the same deadline
        assert closed_by_server_within(silent, WAIT_S)
        assert closed_by_server_within(slow, WAIT_S)
        assert closed_by_server_within(local, WAIT_S)

        # a request that takes longer than the deadline to answer: its stream stays open until the answer
        with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_MACHINE), timeout=WAIT_S) as client:
            event_id = client.post(f"{url}gradio_api/call/hold", json={"data": ["kept"]}).json()["event_id"]
            with client.stream("GET", f"{url}gradio_api/call/hold/{event_id}") as stream:
                lines = stream.iter_lines()
                time.sleep(3.0)  # three deadlines with the answer still being made
                release.set()
                data = [line for line in lines if line.startswith("data: ")]
            assert json.loads(data[-1][len("data: ") :]) == ["kept"]
            assert client.get(f"{url}config").status_code == 200  # the same client, served again
    finally:
        release.set()
        demo.close()


@pytest.mark.heavy  # an app server of its own
def test_one_address_holds_at_most_its_cap_of_connections_and_gets_them_back_when_it_closes_some():
    demo = launch_holding_page(threading.Event(), ConnectionLimits(request_head_s=0, per_address=3))
    try:
        url = demo.local_url
        held = [connect(url, OTHER_MACHINE) for _ in range(3)]
        other = httpx.HTTPTransport(local_address=OTHER_MACHINE)
        with httpx.Client(transport=other, timeout=WAIT_S) as client:
            reply = client.get(f"{url}config")
        assert reply.status_code == 429
        assert reply.text.startswith("Busy: your address already has 3 connections open (at most 3)")
        with httpx.Client(timeout=WAIT_S) as client:  # this machine: no cap
            assert client.get(f"{url}config").status_code == 200
        assert not closed_by_server_within(held[0], 0.5)  # no deadline here: the held ones stay open

        held.pop().close()
        deadline = time.monotonic() + WAIT_S
        status = 429
        while status == 429 and time.monotonic() < deadline:  # until the server has seen the close
            with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_MACHINE), timeout=WAIT_S) as client:
                status = client.get(f"{url}config").status_code
        assert status == 200
        for s in held:
            s.close()
    finally:
        demo.close()


def get_config(url: str, address: str) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=WAIT_S) as client:
        return client.get(f"{url}config")


@pytest.mark.heavy  # an app server of its own
def logged_until(capsys, words: str, seen: list[str]) -> str:
    """The server's stderr so far (kept in `seen`), once it holds `words` (waited for: the server logs as it
    handles a close, which the client does not wait for)."""
    deadline = time.monotonic() + WAIT_S
    while words not in "".join(seen) and time.monotonic() < deadline:
        seen.append(capsys.readouterr().err)
        time.sleep(0.05)
    return "".join(seen)


def test_at_the_total_cap_a_new_visitor_is_refused_unless_an_address_holds_more_than_its_share(capsys):
    # no address holds more than a newcomer would: the newcomer is refused, this machine is not counted
    demo = launch_holding_page(threading.Event(), ConnectionLimits(request_head_s=0, per_address=3, total=3))
    try:
        url = demo.local_url
        held = [connect(url, address) for address in ("127.0.0.2", "127.0.0.3", "127.0.0.5")]
        local = [connect(url, "127.0.0.1") for _ in range(3)]
        reply = get_config(url, "127.0.0.4")
        assert reply.status_code == 503 and reply.headers["retry-after"] == "60"
        assert reply.text.startswith("Busy: the studio already has 3 connections open from visitors (at most 3)")
        assert get_config(url, "127.0.0.1").status_code == 200
        assert not any(closed_by_server_within(s, 0.2) for s in held)  # nobody gave a place up

        held.pop().close()
        deadline = time.monotonic() + WAIT_S
        status = 503
        while status == 503 and time.monotonic() < deadline:  # until the server has seen the close
            status = get_config(url, "127.0.0.4").status_code
        assert status == 200
        # the owner reads one line when visitors reach the cap, one when they leave it, and what it did meanwhile
        log = logged_until(capsys, "below the cap again", [])
        assert log.count("aigc: visitors hold 3 connections, the cap (--connections-max)") == 1
        left = re.search(r"below the cap again; meanwhile 0 gave their place to newcomers and (\d+) were refused", log)
        assert left and int(left.group(1)) >= 1
        for s in held + local:
            s.close()
    finally:
        demo.close()

    # one address holds the whole cap: a newcomer takes the place of its oldest connection, the rest stay
    demo = launch_holding_page(threading.Event(), ConnectionLimits(request_head_s=0, per_address=3, total=3))
    try:
        url = demo.local_url
        held = [connect(url, "127.0.0.2") for _ in range(3)]
        assert get_config(url, "127.0.0.4").status_code == 200
        assert closed_by_server_within(held[0], WAIT_S)
        assert not closed_by_server_within(held[1], 0.2) and not closed_by_server_within(held[2], 0.2)
        for s in held:
            s.close()
        log = logged_until(capsys, "below the cap again", [])
        assert "meanwhile 1 gave their place to newcomers and 0 were refused" in log
    finally:
        demo.close()


@pytest.mark.heavy  # an app server of its own
def test_aigc_serve_guards_its_server_with_its_flags(models_dir, tmp_path, monkeypatch):
    # serve installs the guard for the whole process: what the process had is restored after the test
    monkeypatch.setitem(uvicorn_config.HTTP_PROTOCOLS, "auto", uvicorn_config.HTTP_PROTOCOLS["auto"])
    monkeypatch.setattr(guard, "INSTALLED", guard.INSTALLED)
    args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--port", str(free_port())]
    flags = ["--no-warm-up", "--connections-max-each", "2", "--connections-max", "3"]
    demo, studio = app.serve(app.parse_args([*args, *flags]), block=False)
    held = []
    try:
        held = [connect(demo.local_url, OTHER_MACHINE) for _ in range(2)]
        with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER_MACHINE), timeout=WAIT_S) as client:
            reply = client.get(f"{demo.local_url}config")
        assert reply.status_code == 429 and "(at most 2)" in reply.text
        held.append(connect(demo.local_url, "127.0.0.3"))
        reply = get_config(demo.local_url, "127.0.0.3")  # holds 1, the most any holds is 2: no place given up
        assert reply.status_code == 503 and "(at most 3)" in reply.text
    finally:
        for s in held:
            s.close()
        demo.close()
        studio.close()
