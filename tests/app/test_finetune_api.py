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
    judge_blind_through_the_api(client, studio, child)


def judge_blind_through_the_api(client, studio, child: str) -> None:
    """/ab_pair and /ab_pick: what the page's blind A/B does, for a script; it never learns which side is which."""
    from gradio_client.exceptions import AppError
    from PIL import Image

    with pytest.raises(AppError, match="tiny-vae has no parent version to compare with"):
        client.predict("tiny-vae", api_name="/ab_stats")  # a shipped model: was all zeros
    picked = {"A": 0, "B": 0, "same": 0}
    for seed, choice in zip(range(1, 6), ("A", "B", "a", "same", "B")):
        left, right, pair = client.predict(child, seed, api_name="/ab_pair")
        assert set(pair) == {"pair", "child"} and pair["child"] == child  # a token, no sample ids
        for path in (left, right):
            with Image.open(path) as image:
                assert image.format == "PNG"
        assert client.predict(pair["pair"], choice, api_name="/ab_pick")["recorded"] is True
        picked[choice.upper() if choice != "same" else choice] += 1
        with pytest.raises(AppError, match="unknown pair"):
            client.predict(pair["pair"], "A", api_name="/ab_pick")  # once per pair
    stranger = api_client(client.src)
    _, _, theirs = client.predict(child, 9, api_name="/ab_pair")
    with pytest.raises(AppError, match="unknown pair"):
        stranger.predict(theirs["pair"], "A", api_name="/ab_pick")  # only the client it was shown to
    with pytest.raises(AppError, match='choice must be "A", "B" or "same"'):
        client.predict(theirs["pair"], "left", api_name="/ab_pick")
    comparisons = studio.store.comparisons(limit=10)
    assert len(comparisons) == 5 and sum(c.picked_sample_id is None for c in comparisons) == picked["same"] == 1
    stats = client.predict(child, api_name="/ab_stats")
    assert stats["wins"] + stats["losses"] == 4 and stats["ties"] == 1
