"""REST calls to an endpoint that does not exist, or for a result that is not there: a 404 and one line, never a
500 or a reply cut off halfway, and no traceback in the server's log (aigc_ui/unknown_calls.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.app.helpers import result_of


@pytest.mark.parametrize("path", ["gradio_api/call/nosuch", "gradio_api/call/v2/nosuch"])
def test_a_call_to_no_endpoint_is_a_404_naming_the_real_ones(server, path, capfd):
    answer = httpx.post(f"{server}{path}", json={"data": []}, timeout=30)
    assert answer.status_code == 404, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("no endpoint /nosuch; the endpoints are") and "/sample" in detail
    assert "/load" not in detail and len(detail) < 400, detail  # the public ones only: the README's table
    assert "Traceback" not in capfd.readouterr().err


def test_a_result_never_given_is_a_404_not_a_cut_reply(server, capfd):
    answer = httpx.get(f"{server}gradio_api/call/sample/deadbeef", timeout=30)
    assert answer.status_code == 404 and "deadbeef" in answer.json()["detail"]
    assert "response already started" not in capfd.readouterr().err


def test_real_calls_still_run_and_their_results_are_read(server):
    started = httpx.post(f"{server}gradio_api/call/sample", json={"data": ["tiny-vae", 1, 3, 0]}, timeout=30)
    assert started.status_code == 200
    event, payload = result_of(server, "sample", started.json()["event_id"])
    assert event == "complete" and len(payload[0]) == 1
