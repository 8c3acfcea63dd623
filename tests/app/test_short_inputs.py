"""A hand-written REST call with too few values hears which values the endpoint takes (aigc_ui/short_inputs.py);
before, it read `{"error": null}` and the server's log held a traceback per call."""

from __future__ import annotations

import httpx
import pytest

from tests.app.helpers import result_of


def call(server: str, api_name: str, data: list) -> tuple[str, object]:
    event_id = httpx.post(f"{server}gradio_api/call/{api_name}", json={"data": data}, timeout=30).json()["event_id"]
    return result_of(server, api_name, event_id)


@pytest.mark.parametrize("data", [[], ["tiny-vae"], ["tiny-vae", 2, 0]])
def test_too_few_values_name_the_endpoint_and_what_it_takes(server, data, capfd):
    event, payload = call(server, "sample", data)
    assert event == "error"
    assert payload["error"] == (
        f"/sample takes 4 values in its data list (model, n, seed, truncation); got {len(data)}"
    ), payload
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "api_name,message",
    [
        ("rate", "/rate takes 2 values in its data list (sample_id, score); got 1"),
        ("finetune", "/finetune takes"),
        ("history", "/history takes"),
    ],
)
def test_api_functions_name_their_parameters_not_1st_2nd(server, api_name, message):
    """`gr.api` endpoints (typed Python functions) say their parameters' names, never Gradio's "1st", "2nd"."""
    event, payload = call(server, api_name, [1] if api_name == "rate" else [])
    assert event == "error" and payload["error"].startswith(message), payload
    assert "1st" not in payload["error"], payload


def test_a_full_data_list_still_runs(server):
    event, payload = call(server, "sample", ["tiny-vae", 2, 0, 1.0])
    assert event == "complete" and len(payload[0]) == 2
