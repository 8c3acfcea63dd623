"""Closing the loop through the HTTP API: rate, fine-tune in the background, poll, find the child, blind A/B stats."""

from __future__ import annotations

import time

import pytest

from tests.app.helpers import api_client, app_of_its_own
from tests.gate import held_children

# A real background fine-tune: `aigc finetune` in a child process, polled through the HTTP API.
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loop_client(models_dir, home, tmp_path_factory):
    """Its own app, database and models folder: the children it makes must not leak into other tests."""
    with app_of_its_own(models_dir, tmp_path_factory, "loop") as (studio, demo):
        yield api_client(demo.local_url), studio


def test_finetune_endpoint_makes_a_child_version(loop_client, tmp_path):
    client, studio = loop_client
    with pytest.raises(Exception, match="not enough ratings"):
        client.predict("tiny-vae", 20, "", api_name="/finetune")
    _, info = client.predict("tiny-vae", 24, 5, 0, api_name="/sample")
    for i, sample_id in enumerate(info["sample_ids"]):
        client.predict(sample_id, 1 if i % 2 else -1, api_name="/rate")
    with held_children(tmp_path / "gate") as gate:  # the run cannot end before the second start is refused
        started = client.predict("tiny-vae", 20, "", api_name="/finetune")
        assert started["state"] == "running"
        gate.wait_for_child()
        with pytest.raises(Exception, match="already running"):
            client.predict("tiny-vae", 20, "", api_name="/finetune")
        assert len(gate.held()) == 1
    deadline = time.time() + 180
    status = started
    while time.time() < deadline:
        status = client.predict("tiny-vae", api_name="/finetune_status")
        if status["state"] != "running":
            break
        assert 0.0 <= status["progress"] <= 1.0
        time.sleep(0.5)
    assert status["state"] == "succeeded", status["message"]
    child = status["child"]
    assert "mean_reward_after" in status["metrics"]
    assert status["stages"][0] == "ratings" and status["stages"][-2:] == ["published", "done"]
    assert status["elapsed_s"] > 0 and status["eta_s"] == 0.0 and status["label"].startswith(f"new version {child}")
    models = {m["name"]: m for m in client.predict(api_name="/models")}
    assert models[child]["parent"] == "tiny-vae"
    assert client.predict(child, api_name="/ab_stats")["wins"] == 0
    run = studio.store.list_runs()[0]
    assert run.status == "succeeded" and run.n_ratings == 24
