"""How the page is put together: any subset of tabs builds, every endpoint lives in aigc_ui/api.py,
and the History and Interpolate tabs read and decode in bulk (one read, one forward pass per model)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from aigc_ui import api, explore_tab, finetune_tab, generate_tab, history_tab, interpolate_tab, models_tab
from aigc_ui import server as app
from aigc_ui.history_tab import thumbnails
from aigc_ui.interpolate_tab import interpolation

ALL_TABS = [
    generate_tab.build,
    explore_tab.build,
    interpolate_tab.build,
    history_tab.build,
    models_tab.build,
    finetune_tab.build,
]
LOOP_ENDPOINTS = {"finetune", "finetune_status", "ab_stats"}


def endpoint_names(demo) -> set[str]:
    return {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility != "private"}


@pytest.mark.parametrize("tabs", [[t] for t in ALL_TABS] + [list(reversed(ALL_TABS))], ids=lambda t: str(len(t)))
def test_any_subset_of_tabs_in_any_order_builds(studio, tabs):
    demo = app.build_demo(studio, tabs=tabs)
    assert LOOP_ENDPOINTS | {"sample", "rate", "history"} <= endpoint_names(demo)


def test_the_loop_endpoints_are_registered_by_the_api_module(studio):
    demo = app.build_demo(studio, tabs=[])
    assert endpoint_names(demo) >= LOOP_ENDPOINTS
    api_source, tab_source = (Path(m.__file__).read_text() for m in (api, finetune_tab))
    assert all(f'api_name="{name}"' in api_source for name in LOOP_ENDPOINTS)
    assert not any(f'api_name="{name}"' in tab_source for name in LOOP_ENDPOINTS)


class Counting:
    """Wraps the studio and its store, counting calls by name (what a tab costs per page view)."""

    def __init__(self, studio, monkeypatch):
        self.calls: dict[str, int] = {}
        for owner, names in ((studio.store, ("get_sample", "get_samples")), (studio, ("decode", "decode_many"))):
            for name in names:
                monkeypatch.setattr(owner, name, self._count(name, getattr(owner, name)))
        for name in ("tiny-gan", "tiny-vae"):
            model = studio.model(name)
            monkeypatch.setattr(model, "decode", self._count("forward", model.decode))

    def _count(self, name, fn):
        def wrapper(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*args, **kwargs)

        return wrapper


def test_history_thumbnails_are_one_read_and_one_forward_pass_per_model(studio, monkeypatch):
    gan = studio.sample("tiny-gan", 3, 11, rater="history-test")
    vae = studio.sample("tiny-vae", 4, 12, rater="history-test")
    ids = [vae.sample_ids[0], gan.sample_ids[1], vae.sample_ids[3], gan.sample_ids[0], vae.sample_ids[2]]
    counting = Counting(studio, monkeypatch)
    found = thumbnails(studio, ids)
    assert counting.calls.get("get_samples") == 1 and "get_sample" not in counting.calls
    assert counting.calls.get("forward") == 2  # one per model, whatever the number of items
    expected = [
        ("tiny-vae", vae.images[0]),
        ("tiny-gan", gan.images[1]),
        ("tiny-vae", vae.images[3]),
        ("tiny-gan", gan.images[0]),
        ("tiny-vae", vae.images[2]),
    ]
    for (name, image), (want_name, want) in zip(found, expected):
        assert name == want_name
        np.testing.assert_array_equal(image, want)


def test_an_interpolation_decodes_each_frame_once(studio, monkeypatch):
    z_a, z_b = studio.latent_of("tiny-vae", 1), studio.latent_of("tiny-vae", 2)
    counting = Counting(studio, monkeypatch)
    images, latents, ids = interpolation(studio, "tiny-vae", z_a, z_b, 6, "interp-test")
    assert counting.calls.get("forward") == 1 and len(images) == len(ids) == 6
    np.testing.assert_array_equal(images, studio.decode_many("tiny-vae", latents))
    stored = studio.samples_info(ids)
    np.testing.assert_allclose(np.stack([z for _, z in stored]), latents, atol=1e-6)


def explore_buttons(demo, elem_id: str) -> bool:
    config = demo.get_config_file()
    grid = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    return grid["props"]["props"]["explore"] if "props" in grid["props"] else grid["props"]["explore"]


def test_cards_offer_the_explorer_only_when_the_page_has_one(studio):
    assert explore_buttons(app.build_demo(studio, tabs=[generate_tab.build, explore_tab.build]), "gen-cards")
    assert not explore_buttons(app.build_demo(studio, tabs=[generate_tab.build]), "gen-cards")


def test_the_rate_next_box_names_the_pool_the_studio_draws(studio):
    """The checkbox's promise is the selection rule's own figure (it once said 4× after the pool became 16×)."""
    from aigc.feedback.selection import pool_size

    config = app.build_demo(studio, tabs=[generate_tab.build]).get_config_file()
    box = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "gen-to-rate")
    assert f"from {pool_size(8) // 8}× as many samples" in box["props"]["info"]


def test_the_readme_api_table_lists_exactly_the_public_endpoints(studio):
    """The README's *The API* table is the one copy of the endpoints' docs: a new endpoint, a renamed one or a
    row left behind fails here, not in a stranger's gradio_client."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("### The API", 1)[1].split("\n\n**Limits.**", 1)[0]
    documented = set(re.findall(r"^\| `/([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert documented == endpoint_names(app.build_demo(studio, tabs=ALL_TABS))


def test_the_page_queue_holds_a_bounded_number_of_waiting_requests(studio):
    """Unbounded, a flood of joins from new sessions held 1.7 GB of the server (benchmarks/queue_flood.py)."""
    assert app.build_demo(studio, tabs=[])._queue.max_size == app.QUEUE_MAX_EVENTS
    assert app.build_demo(studio, tabs=[], queue_max=7)._queue.max_size == 7
    assert app.parse_args([]).queue_max == app.QUEUE_MAX_EVENTS
    assert app.parse_args(["--queue-max", "500"]).queue_max == 500
