"""The page's HTTP API through gradio_client, against the app on a free port with a temporary database."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from gradio_client.exceptions import AppError
from PIL import Image

from feedback_db import FeedbackStore

GAN, VAE = "tiny-gan", "tiny-vae"


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def gallery_paths(images) -> list[str]:
    return [item["image"] if isinstance(item, dict) else item[0] for item in images]


@pytest.fixture(scope="module")
def store(db_url):
    with FeedbackStore(db_url) as s:
        yield s


def test_every_action_is_a_named_endpoint(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    wanted = {
        "sample",
        "decode",
        "encode",
        "interpolate",
        "rate",
        "models",
        "stats",
        "children",
        "cross",
        "rate_latent",
        "history",
        "sample_info",
        "axes",
        "ratings_advice",
        "to_rate",
    }
    assert {f"/{n}" for n in wanted} <= names


def test_to_rate_returns_recorded_rateable_images(client, store):
    images, info = client.predict(VAE, 4, 11, api_name="/to_rate")
    assert len(gallery_paths(images)) == len(info["sample_ids"]) == 4
    rated = client.predict(info["sample_ids"][0], 1.0, api_name="/rate")
    assert rated["sample_id"] == info["sample_ids"][0]


@pytest.mark.heavy
def test_ratings_advice_says_how_sure_a_run_would_be_before_training(client):
    batch_info = client.predict(VAE, 30, 4321, 0, api_name="/sample")[1]
    for i, sample_id in enumerate(batch_info["sample_ids"]):
        client.predict(sample_id, 1.0 if i % 2 else -1.0, api_name="/rate")  # alternate: no taste to find
    advice = client.predict(VAE, "", api_name="/ratings_advice")
    assert advice["level"] in ("low", "medium", "high") and advice["heldout_n"] >= 30
    assert advice["text"] and isinstance(advice["warnings"], list)
    assert 0 <= advice["heldout_accuracy"] <= 1 and 0 <= advice["heldout_ece"] <= 1
    assert advice["heldout_nested"] is True and 0 <= advice["heldout_auc"] <= 1 and isinstance(advice["no_taste"], bool)


def test_models_lists_both_kinds_with_cards(client):
    models = {m["name"]: m for m in client.predict(api_name="/models")}
    assert models[GAN]["kind"] == "gan" and models[VAE]["kind"] == "vae"
    assert models[VAE]["latent_dim"] > 0 and models[VAE]["image_shape"] == [28, 28, 1]
    assert "tiny-vae" in models[VAE]["card"]


def test_sample_then_rate_lands_in_the_database(client, store):
    images, info = client.predict(VAE, 4, 1234, 0, api_name="/sample")
    ids = info["sample_ids"]
    assert len(gallery_paths(images)) == 4 and len(ids) == 4 and info["seed"] == 1234
    first = client.predict(ids[0], 1, api_name="/rate")
    client.predict(ids[1], -1, api_name="/rate")
    rater = first["rater"]
    assert rater  # the client's session
    rows = {s.id: s for s in store.get_samples(ids)}
    for sample_id, latent in zip(ids, info["latents"]):
        np.testing.assert_allclose(rows[sample_id].latent, latent, atol=1e-4)
        assert rows[sample_id].source == "sample" and rows[sample_id].seed == 1234
    rated = {r.sample_id: r for r in store.ratings_for_lineage(rows[ids[0]].version_id) if r.rater_id == rater}
    assert rated[ids[0]].score == 1.0 and rated[ids[1]].score == -1.0
    np.testing.assert_allclose(rated[ids[0]].latent, info["latents"][0], atol=1e-4)


def test_changing_ones_mind_updates_the_one_rating(client, store):
    _, info = client.predict(GAN, 1, 7, 0, api_name="/sample")
    sample_id = info["sample_ids"][0]
    client.predict(sample_id, 1, api_name="/rate")
    result = client.predict(sample_id, -1, api_name="/rate")
    mine = [
        r
        for r in store.ratings_for_lineage(store.get_sample(sample_id).version_id)
        if r.sample_id == sample_id and r.rater_id == result["rater"]
    ]
    assert [r.score for r in mine] == [-1.0]


def test_permalink_seed_gives_identical_images(client):
    a, info_a = client.predict(GAN, 3, 99, 0, api_name="/sample")
    b, info_b = client.predict(GAN, 3, 99, 0, api_name="/sample")
    for pa, pb in zip(gallery_paths(a), gallery_paths(b)):
        np.testing.assert_array_equal(pixels(pa), pixels(pb))
    assert (
        info_a["latents"] == info_b["latents"] and info_a["sample_ids"] != info_b["sample_ids"]
    )  # both shown, both recorded


def test_truncation_changes_gan_latents(client):
    _, plain = client.predict(GAN, 2, 5, 0, api_name="/sample")
    _, truncated = client.predict(GAN, 2, 5, 0.5, api_name="/sample")
    assert np.abs(truncated["latents"]).max() <= 0.5 + 1e-6 < np.abs(plain["latents"]).max()


def test_a_vae_says_it_drew_without_truncation(client):
    """A VAE has no truncation: asked for one, it draws as without it, and its info says so instead of echoing it."""
    _, plain = client.predict(VAE, 2, 5, 0, api_name="/sample")
    _, asked = client.predict(VAE, 2, 5, 0.5, api_name="/sample")
    assert asked["latents"] == plain["latents"] and asked["truncation"] == 0 == plain["truncation"]


def test_decode_reproduces_a_sample(client):
    images, info = client.predict(VAE, 2, 11, 0, api_name="/sample")
    decoded = client.predict(VAE, info["latents"][1], api_name="/decode")
    np.testing.assert_array_equal(pixels(decoded), pixels(gallery_paths(images)[1]))
    as_text = client.predict(VAE, json.dumps(info["latents"][1]), api_name="/decode")
    np.testing.assert_array_equal(pixels(as_text), pixels(decoded))


def _png(size=(28, 28)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((np.arange(size[0] * size[1]) % 255).astype(np.uint8).reshape(size[1], size[0])).save(buffer, "PNG")
    return buffer.getvalue()


def _bomb_png(width=20_000, height=20_000) -> bytes:
    """A valid 1-bit PNG header claiming 400 M pixels, a few hundred bytes on disk."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * 16))
        + chunk(b"IEND", b"")
    )


def test_encode_an_upload(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "mine.png"
    path.write_bytes(_png())
    result = client.predict(VAE, handle_file(str(path)), api_name="/encode")
    dim = {m["name"]: m for m in client.predict(api_name="/models")}[VAE]["latent_dim"]
    assert len(result["latent"]) == dim and all(np.isfinite(result["latent"]))
    assert isinstance(result["negated"], bool)  # whether its background was the opposite of the model's


@pytest.mark.parametrize(
    "name,data,message",
    [
        (VAE, b"this is not an image at all", "not an image file: its content is no PNG, JPEG"),
        (VAE, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a readable image"),  # a PNG cut short
        (VAE, None, "too many pixels"),
        (GAN, None, "no encoder"),
    ],
)
def test_bad_uploads_get_a_clear_message(client, tmp_path, name, data, message):
    from gradio_client import handle_file

    path = tmp_path / "upload.png"
    path.write_bytes(data if data is not None else (_bomb_png() if name == VAE else _png()))
    with pytest.raises(AppError) as err:
        client.predict(name, handle_file(str(path)), api_name="/encode")
    assert message in str(err.value) and "Traceback" not in str(err.value)


def test_unknown_model_is_a_clear_error(client):

    with pytest.raises(AppError, match="unknown model 'nope'"):
        client.predict("nope", 2, 1, 0, api_name="/sample")
    with pytest.raises(AppError, match="unknown model 'nope'"):
        client.predict("nope", api_name="/finetune_status")  # was "idle", as if it were a model with no run
    with pytest.raises(AppError, match="a latent of tiny-vae must be a list of"):
        client.predict(VAE, [1.0, 2.0], api_name="/decode")


def test_interpolate_records_frames_and_makes_a_gif(client, store):
    frames, gif, info = client.predict(GAN, 1, {"seed": 2}, 6, api_name="/interpolate")
    assert len(gallery_paths(frames)) == 6 == len(info["sample_ids"])
    with Image.open(gif) as animation:
        assert animation.format == "GIF" and animation.n_frames >= 6
    assert {s.source for s in store.get_samples(info["sample_ids"])} == {"interpolate"}
    _, sample_info = client.predict(GAN, 1, 1, 0, api_name="/sample")
    np.testing.assert_allclose(info["latents"][0], sample_info["latents"][0], atol=1e-4)  # starts at seed 1


def test_children_cross_and_rate_latent(client, store):
    _, info = client.predict(VAE, 2, 3, 0, api_name="/sample")
    parent = info["latents"][0]
    kids, brood = client.predict(VAE, parent, 4, 0.3, 1, api_name="/children")
    assert len(gallery_paths(kids)) == 4 and len(brood["sample_ids"]) == 4
    assert np.abs(np.subtract(brood["latents"], parent)).max() < 3
    _, child = client.predict(
        VAE, {"sample_id": info["sample_ids"][0]}, {"sample_id": info["sample_ids"][1]}, 0, api_name="/cross"
    )
    a, b, c = np.array(info["latents"][0]), np.array(info["latents"][1]), np.array(child["latent"])
    assert np.all(np.isclose(c, a, atol=1e-4) | np.isclose(c, b, atol=1e-4))
    rated = client.predict(VAE, child["latent"], 1, api_name="/rate_latent")
    sample = store.get_sample(rated["sample_id"])
    assert sample.source == "explore"
    np.testing.assert_allclose(sample.latent, child["latent"], atol=1e-4)


def test_history_sample_info_axes_and_stats(client):
    _, info = client.predict(VAE, 2, 21, 0, api_name="/sample")
    client.predict(info["sample_ids"][1], 1, api_name="/rate")
    history = client.predict(10, api_name="/history")
    assert history[0]["sample_id"] == info["sample_ids"][1] and history[0]["score"] == 1.0  # newest activity first
    assert (history[0]["seed"], history[0]["index"]) == (21, 1)  # they draw it again
    picked = client.predict(VAE, 2, 22, api_name="/to_rate")[1]["sample_ids"]
    moved = client.predict(VAE, info["latents"][0], 1, api_name="/rate_latent")["sample_id"]
    seeds = {h["sample_id"]: (h["seed"], h["index"]) for h in client.predict(10, api_name="/history")}
    assert {seeds[i] for i in [*picked, moved]} == {(None, None)}  # not a seed's batch: no seed that draws another
    found = client.predict(info["sample_ids"][0], api_name="/sample_info")
    assert found["model"] == VAE and np.allclose(found["latent"], info["latents"][0], atol=1e-4)
    axes = client.predict(GAN, api_name="/axes")
    basis = np.array(axes["basis"])
    np.testing.assert_allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-3)
    stats = {s["version"]: s for s in client.predict(api_name="/stats")}
    assert stats[VAE]["ratings"] >= 1 and 0 <= stats[VAE]["like_rate"] <= 1


def test_my_taste_direction_points_towards_the_liked_latents(server):
    from tests.app.helpers import api_client

    fresh = api_client(server)  # a person of their own: no ratings yet
    assert fresh.predict(VAE, True, api_name="/taste")["direction"] is None
    _, info = fresh.predict(VAE, 16, 41, 0, api_name="/sample")
    latents = np.array(info["latents"])
    liked = latents[:, 0] > np.median(latents[:, 0])  # a taste along the first coordinate
    for sample_id, like in zip(info["sample_ids"], liked):
        fresh.predict(sample_id, 1 if like else -1, api_name="/rate")
    direction = np.array(fresh.predict(VAE, True, api_name="/taste")["direction"])
    assert direction.shape == (latents.shape[1],) and abs(np.linalg.norm(direction) - 1) < 1e-3
    assert (latents[liked] @ direction).mean() > (latents[~liked] @ direction).mean()
    with pytest.raises(AppError, match="only_mine must be true or false"):
        fresh.predict(VAE, "abc", api_name="/taste")  # before: read as true
    with pytest.raises(AppError, match="only_rater must be a rater id"):
        fresh.predict(VAE, ["a", "b"], api_name="/ratings_advice")  # before: "Something went wrong on the server"
