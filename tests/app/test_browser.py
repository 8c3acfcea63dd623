"""A person at the page, in a real browser (Playwright + Debian's Chromium): generate, like, change one's
mind, move a slider and see the image change, upload an image, rate what the explorer shows, follow a
permalink; then the database holds exactly what was done."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from feedback_db import FeedbackStore
from tests.app.helpers import (
    TIMEOUT,
    drag_first_slider_until_the_picture_changes,
    eventually,
    fetch_pixels,
    img_src,
    rating_of,
    wait_for_text,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(db_url):
    with FeedbackStore(db_url) as s:
        yield s


def test_a_person_generates_rates_explores_and_uploads(page, server, store, tmp_path):
    page.goto(f"{server}?model=tiny-vae&seed=4242")
    page.wait_for_selector("#card-0 img", timeout=TIMEOUT)
    status = wait_for_text(page, "#gen-status", r"samples #\d+")
    first_id = int(re.search(r"samples #(\d+)", status).group(1))
    assert "tiny-vae" in status and "seed 4242" in status
    assert store.get_sample(first_id).seed == 4242  # recorded before it reached the page

    # like the first image, then change one's mind
    page.click("#like-0")
    wait_for_text(page, "#card-0", "liked")
    assert eventually(lambda: rating_of(store, first_id) == [1.0])
    page.click("#dislike-0")
    wait_for_text(page, "#card-0", "disliked")
    assert eventually(lambda: rating_of(store, first_id) == [-1.0])

    # the permalink shown is this batch
    link = page.locator("#gen-link textarea, #gen-link input").first.input_value()
    assert "model=tiny-vae" in link and "seed=4242" in link

    # open the first card in the explorer, move a slider with the keyboard, see the picture change
    page.click("#explore-0")
    wait_for_text(page, "#ex-status", f"sample #{first_id}")
    before = drag_first_slider_until_the_picture_changes(page)
    after = img_src(page, "#ex-image")
    assert not np.array_equal(fetch_pixels(page, before), fetch_pixels(page, after))

    # rate what the explorer shows: a new sample (source "explore") with the slider's latent, rated +1
    page.click("#ex-like")
    explored = int(re.search(r"sample #(\d+)\)", wait_for_text(page, "#ex-status", r"liked \(sample #\d+\)")).group(1))
    sample = store.get_sample(explored)
    assert sample.source == "explore" and rating_of(store, explored) == [1.0]
    assert not np.allclose(sample.latent, store.get_sample(first_id).latent)  # the slider moved it

    # upload an image: the VAE encodes it and the sliders jump to its latent
    upload = tmp_path / "shirt.png"
    Image.fromarray((np.indices((28, 28)).sum(0) * 4 % 256).astype(np.uint8)).save(upload)
    slider = page.locator("#ex-slider-0 input[type=range]")
    slider_before = slider.input_value()
    with page.expect_file_chooser() as chooser:
        page.click("#ex-upload")
    chooser.value.set_files(str(upload))
    wait_for_text(page, "#ex-status", "your image")
    assert slider.input_value() != slider_before
    page.locator("#ex-original img").wait_for(timeout=TIMEOUT)  # the upload itself, beside what the VAE made of it

    # a non-image gets a clear message, not a stack trace
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"definitely not a picture")
    with page.expect_file_chooser() as chooser:
        page.click("#ex-upload")
    chooser.value.set_files(str(bad))
    toast = page.locator(".toast-body, [data-testid='toast-body']").filter(has_text="not an image file")
    toast.first.wait_for(timeout=TIMEOUT)
    assert "Traceback" not in page.content() and "/tmp/" not in toast.first.inner_text()
    assert page.locator("#ex-image img").is_visible()  # the page keeps what it shows

    # the partners to cross with are this person's own samples, refreshed when the explorer opened
    page.locator(f"#ex-partner button[data-id='{first_id}']").wait_for(timeout=TIMEOUT)

    # breed: children of this image, then open one of them in the explorer
    page.click("#ex-children-go")
    page.locator("#child-explore-2").click()
    child = int(re.search(r"child #(\d+)", wait_for_text(page, "#ex-status", r"child #\d+")).group(1))
    page.locator("#ex-original").wait_for(state="hidden", timeout=TIMEOUT)  # a child is not the upload
    assert store.get_sample(child).source == "explore"

    # history: what this person did, newest first; a click reopens it in the explorer
    page.get_by_role("tab", name="History").click()
    page.locator("#hist-explore-0").wait_for(timeout=TIMEOUT)
    page.locator("#hist-explore-0").click()
    wait_for_text(page, "#ex-status", "from your history")

    page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)
    assert not page.errors, page.errors


def test_permalink_opens_the_same_images_as_the_api(page, server, client):
    images, _ = client.predict("tiny-gan", 3, 777, 0, api_name="/sample")
    page.goto(f"{server}?model=tiny-gan&seed=777&n=3")
    wait_for_text(page, "#gen-status", r"3 images.*seed 777")
    for i, item in enumerate(images):
        shown = fetch_pixels(page, img_src(page, f"#card-{i}"))
        api = np.asarray(Image.open(item["image"]).convert("L"))
        np.testing.assert_array_equal(shown, api)
    assert not page.locator("#card-3").is_visible()


def test_history_downloads_every_rating_of_this_person_as_csv(page, server, store, tmp_path):
    from feedback_db.export import read

    page.goto(f"{server}?model=tiny-vae&seed=4343&n=3")
    status = wait_for_text(page, "#gen-status", r"samples #\d+")
    first = int(re.search(r"samples #(\d+)", status).group(1))
    page.get_by_role("tab", name="History").click()
    wait_for_text(page, "#hist-download", "none yet")  # a new browser has rated nothing
    assert page.locator("#hist-download").is_disabled()
    page.get_by_role("tab", name="Generate").click()
    for i, act in ((0, "like"), (2, "dislike")):
        page.click(f"#{act}-{i}")
        wait_for_text(page, f"#card-{i}", f"{act}d")
    page.get_by_role("tab", name="History").click()
    wait_for_text(page, "#hist-download", r"Your 2 ratings \(CSV\)")
    with page.expect_download(timeout=TIMEOUT) as download:
        page.click("#hist-download")
    path = tmp_path / "mine.csv"
    download.value.save_as(path)
    rows = list(read(path))
    assert [(r["sample_id"], r["score"]) for r in rows] == [(first, 1.0), (first + 2, -1.0)]
    assert all(r["version_name"] == "tiny-vae" and r["seed"] == 4343 for r in rows)
    stored = store.get_sample(first)
    np.testing.assert_array_equal(np.asarray(rows[0]["latent"], np.float32), stored.latent)  # their own picture's
    assert not page.errors, page.errors
