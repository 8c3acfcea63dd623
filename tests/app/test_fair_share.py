"""One visitor cannot fill the queue, hold the explorer's threads or spend the studio's quotas for everyone by
being a new session each time.

A script can mint a new anonymous session per request, so these tests call the REST API (`/gradio_api/call/…`)
without cookies, a new session every call, from 127.0.0.2 and 127.0.0.3 standing for two other machines
(every 127.x address reaches the server on Linux, and the server sees which one), and from 127.0.0.1, this
machine, which is not metered by address.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import httpx
import pytest

from aigc.service.quotas import Quotas, QuotaSettings, Requester, address_key
from aigc_ui.fair_share import share_key
from tests.app.helpers import result_of, running


def post_call(url: str, api_name: str, data: list, address: str, forwarded_for: str = "") -> httpx.Response:
    """Join the queue through the REST API from `address`, as a new session (no cookie); `forwarded_for`: as
    a proxy on `address` that says whose request it forwards."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60) as client:
        return client.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, headers=headers)


def test_only_anonymous_requests_from_other_machines_are_metered_by_address():
    assert address_key("10.1.2.3") == "address 10.1.2.3"
    assert address_key("127.0.0.1") is None and address_key("::1") is None and address_key(None) is None
    assert share_key("ann", "10.1.2.3") == "login ann" and share_key(None, "10.1.2.3") == "address 10.1.2.3"
    assert share_key(None, "127.0.0.1") is None
    # an IPv6 host may use any address of its /64, so the /64 is one visitor; IPv4 written as IPv6 is IPv4
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff:1:2:3") == "address 2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") == "address 2001:db8:1:3::/64"
    assert address_key("::ffff:10.1.2.3") == "address 10.1.2.3" and address_key("::ffff:127.0.0.1") is None
    assert address_key("fe80::1%eth0") == "address fe80::/64" and address_key("testclient") == "address testclient"

    q = Quotas(QuotaSettings(samples_per_minute=10, samples_per_minute_per_address=15))
    q.charge("samples", Requester("session-1", "10.1.2.3"), 10)
    with pytest.raises(ValueError, match=r"^Quota: at most 15 images per minute from one address; try again in 60 s"):
        q.charge("samples", Requester("session-2", "10.1.2.3"), 6)  # a new session, the same machine
    q.charge("samples", Requester("session-2", "10.1.2.3"), 5)
    q.charge("samples", Requester("session-3", "10.9.9.9"), 10)  # another machine
    q.charge("samples", Requester("session-4", "127.0.0.1"), 10)  # this machine: per person only
    q.charge("samples", "ann", 10)  # a login: per person only
    q.refund("samples", Requester("session-2", "10.1.2.3"), 5)
    assert q.used("samples", "address 10.1.2.3") == 10 and q.used("samples", "session-2") == 0

    runs = Quotas(QuotaSettings(finetunes_per_hour_per_address=2))
    runs.charge("finetunes", Requester("session-1", "10.1.2.3"))
    runs.charge("finetunes", Requester("session-2", "10.1.2.3"))
    with pytest.raises(ValueError, match="at most 2 fine-tuning runs per hour from one address"):
        runs.charge("finetunes", Requester("session-3", "10.1.2.3"))


def sample_via(url: str, address: str, forwarded_for: str) -> tuple[str, object]:
    """One /sample of 4 images through a proxy on `address` that forwards for `forwarded_for`, waited for."""
    reply = post_call(url, "sample", ["tiny-gan", 4, 1, 0], address, forwarded_for)
    return result_of(url, "sample", reply.json()["event_id"])


@pytest.mark.heavy  # an app server of its own
def test_new_sessions_from_one_address_share_its_image_quota(studio):
    saved = studio.quotas
    studio.quotas = Quotas(QuotaSettings(samples_per_minute_per_address=6))
    try:
        with running(studio) as demo:
            url = demo.local_url
            done = []
            for address in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.1", "127.0.0.1"]:
                reply = post_call(url, "sample", ["tiny-gan", 4, 1, 0], address)
                assert reply.status_code == 200
                done.append(result_of(url, "sample", reply.json()["event_id"]))
            assert [kind for kind, _ in done] == ["complete", "error", "complete", "complete", "complete"]
            assert "at most 6 images per minute from one address" in json.dumps(done[1][1])
            # a proxy on this machine that says whose requests it forwards: their address is metered
            # (each call waits for the one before: two in the queue at once are charged in either order)
            done = [sample_via(url, "127.0.0.1", "10.0.0.9") for _ in range(2)]
            assert [kind for kind, _ in done] == ["complete", "error"]
            # two addresses of one IPv6 /64 are one visitor; the next /64 is another
            done = [
                sample_via(url, "127.0.0.1", forwarded)
                for forwarded in ("2001:db8:5:6::1", "2001:db8:5:6:abcd::2", "2001:db8:5:7::1")
            ]
            assert [kind for kind, _ in done] == ["complete", "error", "complete"]
            assert "at most 6 images per minute from one address" in json.dumps(done[1][1])
    finally:
        studio.quotas = saved


def hold_tab(started: threading.Event, release: threading.Event):
    """A page whose one endpoint, /hold, runs one call at a time and waits for `release`."""

    def build(ctx) -> None:
        def hold(x: float) -> float:
            started.set()
            release.wait(60)
            return x

        with gr.Tab("hold"):
            button, number = gr.Button("hold"), gr.Number()
        button.click(hold, number, number, api_name="hold", concurrency_limit=1)

    return build


@pytest.mark.heavy  # an app server of its own
def test_one_address_may_have_only_its_share_of_requests_waiting(studio):
    started, release = threading.Event(), threading.Event()
    with running(studio, tabs=[hold_tab(started, release)], settings={"queue_each": 2}) as demo:
        url = demo.local_url
        try:
            events = [post_call(url, "hold", [0], "127.0.0.2").json()["event_id"]]
            assert started.wait(30)  # the first runs (and waits); what follows waits in the queue
            replies = [post_call(url, "hold", [i], "127.0.0.2") for i in (1, 2, 3)]
            assert [r.status_code for r in replies] == [200, 200, 429]
            events += [r.json()["event_id"] for r in replies[:2]]
            refused = post_call(url, "hold", [4], "127.0.0.2")
            assert refused.status_code == 429
            assert refused.json()["detail"] == (
                "Busy: your address already has 2 requests waiting in the queue (at most 2); "
                "try again when they are done."
            )
            # the queue's other doors: /call/v2 is held to the same share; the direct routes run nothing queued
            with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=60) as other:
                v2 = other.post(f"{url}gradio_api/call/v2/hold", json={"x": 9})
                direct = [other.post(f"{url}gradio_api/{route}/hold", json={"data": [9]}) for route in ("run", "api")]
            assert v2.status_code == 429 and "at most 2" in v2.json()["detail"]  # before: 200, past the share
            assert [r.status_code for r in direct] == [404, 404]  # before: both ran beside the queue
            assert post_call(url, "hold", [5], "127.0.0.3").status_code == 200  # another machine is not held up
            assert [post_call(url, "hold", [6], "127.0.0.1").status_code for _ in range(3)] == [200] * 3
        finally:
            release.set()
        assert [result_of(url, "hold", e) for e in events] == [("complete", [0]), ("complete", [1]), ("complete", [2])]
        # once its requests are done, the address has its whole share again
        again = [post_call(url, "hold", [7], "127.0.0.2") for _ in range(2)]
        assert [r.status_code for r in again] == [200, 200]


@pytest.mark.heavy  # an app server of its own
def test_one_address_may_have_only_its_share_of_explorer_moves_in_flight(studio):
    """The explorer's moves are a server function (outside the queue): at most `calls_each` in flight per
    address; the page itself sends one at a time."""
    running_calls, release = threading.Semaphore(0), threading.Event()

    def build(ctx) -> None:
        def hold(request: dict) -> str:
            running_calls.release()
            release.wait(60)
            return "moved"

        with gr.Tab("view"):
            gr.HTML("", server_functions=[hold], elem_id="hold-view")

    body = {"session_hash": "s", "fn_name": "hold", "data": {"z": [0.0]}}
    with running(studio, tabs=[build], settings={"moves_each": 2}) as demo:
        view = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "hold-view")
        body["component_id"] = view._id
        url = demo.local_url + "gradio_api/component_server"

        def call(address: str) -> httpx.Response:
            with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60) as client:
                return client.post(url, json=body)

        try:
            with ThreadPoolExecutor(4) as pool:
                first = [pool.submit(call, "127.0.0.2") for _ in range(2)]
                assert all(running_calls.acquire(timeout=30) for _ in first)  # both in flight, held
                refused = call("127.0.0.2")
                assert refused.status_code == 429
                assert refused.json()["detail"] == (
                    "Busy: your address already has 2 explorer moves being made (at most 2); "
                    "try again when they are done."
                )
                other = pool.submit(call, "127.0.0.3")  # another machine is not held up
                assert running_calls.acquire(timeout=30)
                release.set()
                assert [f.result().json() for f in [*first, other]] == ["moved"] * 3
        finally:
            release.set()
        assert call("127.0.0.2").json() == "moved"  # its share back once its calls are done
