"""The page's parts without a browser: the slider path over HTTP, latent arithmetic, links, tables."""

from __future__ import annotations

import base64
import io
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from PIL import Image

from aigc.service.studio import ModelSummary, StudioError
from aigc_ui.common import parse_latent, user_message
from aigc_ui.explore_tab import MAX_SLIDERS, Explorer, moved, slider_props
from aigc_ui.generate_tab import permalink
from aigc_ui.models_tab import lineage_markdown


def decoded(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))


def test_slider_path_is_one_post_that_returns_the_moved_picture(server, studio):
    config = httpx.get(f"{server}config", timeout=10).json()
    view = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "ex-image")
    name = view["props"]["props"]["model"]  # gr.HTML's own props (model, z) sit under "props"
    z = np.asarray(view["props"]["props"]["z"], np.float32)
    body = {
        "data": {"model": name, "z": z.tolist(), "changed": {"0": 1.5, "2": -0.5}, "token": "t"},
        "component_id": view["id"],
        "fn_name": "move",
        "session_hash": "test-session",
    }
    uri = httpx.post(f"{server}gradio_api/component_server/", json=body, timeout=10).json()
    expected = studio.decode(name, moved(studio.axes(name).basis, z, {0: 1.5, 2: -0.5}))
    pixels = decoded(uri)
    assert pixels.shape == (expected.shape[0] * 8, expected.shape[1] * 8)
    np.testing.assert_array_equal(pixels[::8, ::8], expected[:, :, 0])
    bad = {**body, "data": {"model": name, "z": [1.0], "changed": {}}}
    assert httpx.post(f"{server}gradio_api/component_server/", json=bad, timeout=10).json() is None


def test_moving_sets_exactly_the_moved_coordinates(studio):
    basis = studio.axes("tiny-gan").basis
    z = studio.latent_of("tiny-gan", 3)
    out = moved(basis, z, {1: 2.0, 4: -1.0})
    coords = basis @ out
    assert coords[1] == pytest.approx(2.0, abs=1e-5) and coords[4] == pytest.approx(-1.0, abs=1e-5)
    untouched = [j for j in range(basis.shape[0]) if j not in (1, 4)]
    np.testing.assert_allclose(coords[untouched], (basis @ z)[untouched], atol=1e-5)
    residual = lambda v: v - basis.T @ (basis @ v)  # noqa: E731 - what no slider shows is kept
    np.testing.assert_allclose(residual(out), residual(z), atol=1e-5)


def test_sliders_show_a_latent_and_unmoved_sliders_change_nothing(studio):
    z = studio.latent_of("tiny-vae", 5)
    props = slider_props(studio, "tiny-vae", z)
    dim = studio.model("tiny-vae").latent_dim
    assert sum(p["visible"] for p in props) == min(dim, MAX_SLIDERS) and len(props) == MAX_SLIDERS
    explorer = Explorer(studio, None, None, [], None, None)
    state = {"model": "tiny-vae", "z": z.tolist()}
    values = [p["value"] for p in props]  # rounded to 0.01 on screen: the exact latent survives
    assert np.array_equal(explorer.current(state, values)[1], z)
    values[0] = round(values[0] + 1, 2)
    _, z2 = explorer.current(state, values)
    assert float(studio.axes("tiny-vae").basis[0] @ z2) == pytest.approx(values[0], abs=1e-5)
    with pytest.raises(StudioError):
        explorer.current({}, values)


@pytest.mark.filterwarnings("ignore:The value passed into gr.Dropdown")  # no page here: no choices
def test_an_upload_is_shown_as_the_model_read_it_beside_the_view_and_only_for_its_own_point(studio, tmp_path):
    light = np.full((40, 40), 250, np.uint8)
    light[10:30, 15:25] = 30  # a dark item on a white table: negated for a model of light items on black
    Image.fromarray(light).save(tmp_path / "photo.png")
    encoded = studio.encode("tiny-vae", str(tmp_path / "photo.png"))
    assert encoded.negated and encoded.pixels is not None and encoded.pixels.shape == (28, 28, 1)
    assert encoded.pixels[0, 0, 0] < 20 and encoded.pixels[14, 14, 0] > 200  # resized and negated, as encoded
    explorer = Explorer(studio, None, None, [], None, None, original="image")
    assert len(explorer.outputs()) == 5 and explorer.outputs()[-1] == "image"
    shown = explorer.open("tiny-vae", encoded.latent, viewer="ann", original=encoded.pixels)
    assert shown[-1].visible and Image.open(shown[-1].value["path"]).size == (112, 112)  # 28 px, 4x
    assert shown[1]["original"] == encoded.pixels.tolist()  # Reset shows it again
    elsewhere = explorer.open("tiny-vae", studio.latent_of("tiny-vae", 3), viewer="ann")
    assert not elsewhere[-1].visible and len(elsewhere) == len(shown)


@pytest.mark.parametrize(
    "text,expected", [("[1, 2.5]", [1, 2.5]), ("1, 2.5", [1, 2.5]), ([3, 4], [3, 4]), ({"latent": [5]}, [5])]
)
def test_latents_from_outside(text, expected):
    assert parse_latent(text).tolist() == expected


@pytest.mark.parametrize(
    "bad",
    [
        "[1, nan]",
        "not json",
        [],
        [[1], [2, 3]],
        "[1, Infinity]",
        [[0.0] * 4],
        "[[0, 0], [0, 0]]",
        "[" * 5000 + "]" * 5000,
    ],
)
def test_bad_latents_are_refused_clearly(bad):
    with pytest.raises(StudioError, match="latent"):
        parse_latent(bad)


def test_permalink_uses_the_page_address_and_drops_defaults():
    request = SimpleNamespace(headers={"Referer": "https://example.org/studio/?model=old&seed=1#x"})
    assert permalink(request, "fashion-gan", 42, 8, 0) == "https://example.org/studio/?model=fashion-gan&seed=42"
    assert permalink(None, "v", 1, 4, 0.7) == "?model=v&seed=1&n=4&truncation=0.7"


def test_lineage_puts_fine_tunes_under_their_parent():
    m = lambda name, parent=None: ModelSummary(name, "gan", 1, parent, 64, (28, 28, 1), "")  # noqa: E731
    text = lineage_markdown([m("base"), m("child", "base"), m("grandchild", "child"), m("orphan", "gone")])
    lines = text.splitlines()
    assert lines[0].startswith("- **base**") and lines[1].startswith("  - **child**")
    assert lines[2].startswith("    - **grandchild**") and any(line.startswith("- **orphan**") for line in lines)


def test_messages_people_see():
    from feedback_db import NotFound

    assert user_message(StudioError("unknown model 'x'")) == "unknown model 'x'"
    assert user_message(NotFound("no sample 9")).startswith("database: ")
    assert user_message(KeyError("bug")) is None  # a bug: the page says something went wrong, the log has it


def test_what_the_reward_read_is_said_in_words():
    from aigc_ui.run_figures import features_words, honesty_markdown

    assert features_words("kinds+stats") == "class probabilities + pixel statistics"
    assert features_words("stats:ink_brightness") == "item brightness alone (one of the pixel statistics)"
    both = features_words("kinds+stats:log_aspect")  # not "alone" beside the class probabilities
    assert both == "class probabilities + proportions (height to width) (one of the pixel statistics)"
    assert features_words("") == "?"
    shown = honesty_markdown({"reward_heldout_accuracy": 0.9, "reward_features_used": "stats:contrast"})
    assert "read: contrast alone (one of the pixel statistics)" in shown


def test_every_pixel_statistic_has_words_for_people():
    from aigc.feedback.appearance import STAT_NAMES
    from aigc_ui.run_figures import STAT_WORDS

    assert set(STAT_WORDS) == set(STAT_NAMES)


def test_pairs_waiting_for_an_api_pick_are_bounded_and_each_picked_once():
    from aigc.service.studio import StudioError
    from aigc_ui.ab import PendingPairs

    pending = PendingPairs(max_pairs=3)
    tokens = [pending.add("ann", {"left_id": i}) for i in range(5)]  # a client that never judges
    assert len(set(tokens)) == 5
    for forgotten in tokens[:2]:  # the oldest go first
        with pytest.raises(StudioError, match="unknown pair"):
            pending.take(forgotten, "ann")
    with pytest.raises(StudioError, match="unknown pair"):
        pending.take(tokens[2], "bob")  # not shown to bob
    assert pending.take(tokens[2], "ann") == {"left_id": 2}
    for bad in (tokens[2], None, ["x"]):  # once; not a token
        with pytest.raises(StudioError, match="unknown pair"):
            pending.take(bad, "ann")
    each = PendingPairs(max_pairs=100, max_each=2)
    bobs = each.add("bob", {"left_id": 0})
    anns = [each.add("ann", {"left_id": i}) for i in range(3)]  # ann's third pushes out her first, not bob's
    assert each.take(bobs, "bob") == {"left_id": 0} and each.take(anns[2], "ann") == {"left_id": 2}
    with pytest.raises(StudioError, match="unknown pair"):
        each.take(anns[0], "ann")
