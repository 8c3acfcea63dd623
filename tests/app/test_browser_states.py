"""States that used to break the page (real browser): Interpolate after a model switch, seeds out of range
on the page and in a permalink, ✨ My taste without ratings, a new version while the page is open, and
upload file names shown as text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from tests.app.helpers import TIMEOUT, wait_for_text

pytestmark = pytest.mark.browser
TOASTS = ".toast-body, [data-testid='toast-body']"
RAW_GRADIO = re.compile(r"not in the list of choices|Error|Traceback|must be greater|must be less", re.I)


def toasts(page) -> list[str]:
    return page.locator(TOASTS).all_inner_texts()


def wait_toast(page, pattern: str) -> None:
    page.locator(TOASTS).filter(has_text=re.compile(pattern)).first.wait_for(timeout=TIMEOUT)


def pick_option(page, dropdown: str, name: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).click()


def close_toasts(page) -> None:
    for button in page.locator("[data-testid='toast-close'], .toast-close").all():
        button.click()


def test_interpolate_survives_a_model_switch(page, server):
    page.goto(f"{server}?model=tiny-gan&seed=41&n=4")
    page.locator("#card-3 img").wait_for(timeout=TIMEOUT)
    page.get_by_role("tab", name="Interpolate").click()
    pick_option(page, "#ip-model", "tiny-gan")
    page.get_by_label("Two of my samples").check()
    page.locator("#ip-sample-a button[data-id]").nth(0).click()
    page.locator("#ip-sample-b button[data-id]").nth(1).click()
    page.click("#ip-go")
    wait_for_text(page, "#ip-note", r"samples #\d+ → #\d+")
    pick_option(page, "#ip-model", "tiny-vae")
    page.get_by_label("Two seeds").check()
    page.click("#ip-go")
    wait_for_text(page, "#ip-note", r"tiny-vae.*seeds 1 → 2")
    page.locator("#frame-card-0 img").wait_for(timeout=TIMEOUT)
    assert not [t for t in toasts(page) if RAW_GRADIO.search(t)], toasts(page)
    assert not page.errors, page.errors


@pytest.mark.parametrize("bad", ["-5", "1e12", "3.7", ""])
def test_a_bad_seed_is_one_clear_line_and_the_page_stays_usable(page, server, bad):
    page.goto(f"{server}?model=tiny-gan&seed=7&n=2")
    wait_for_text(page, "#gen-status", r"seed 7 ")
    before = page.locator("#card-0 img").get_attribute("src")
    box = page.locator("#gen-seed input")
    box.fill(bad)
    page.click("#gen-go")
    wait_toast(page, r"seed (must be|is empty: give) a whole number from 0 to 2147483647")
    assert len(toasts(page)) == 1, toasts(page)
    assert ("is empty" in toasts(page)[0]) is (bad == "")  # an empty box is named as such, not "got None"
    assert "seed 7 " in page.locator("#gen-status").inner_text()  # what is shown stays, with its own seed
    assert page.locator("#card-0 img").get_attribute("src") == before
    assert page.locator(".error, [data-testid='error']").count() == 0  # no red error badges
    close_toasts(page)
    box.fill("12")
    page.click("#gen-go")
    wait_for_text(page, "#gen-status", r"seed 12 ")


def test_a_permalink_with_a_seed_out_of_range_says_so_and_shows_images(page, server):
    page.goto(f"{server}?model=tiny-gan&seed=99999999999&n=2")
    wait_toast(page, r"This link's seed must be a whole number from 0 to 2147483647.*showing seed \d+ instead")
    page.locator("#card-1 img").wait_for(timeout=TIMEOUT)
    status = wait_for_text(page, "#gen-status", r"2 images")
    assert "99999999999" not in status
    assert not [t for t in toasts(page) if RAW_GRADIO.search(t)], toasts(page)


def test_my_taste_without_ratings_warns_once_and_goes_back(page, server):
    page.goto(f"{server}?model=tiny-vae&seed=3&n=1")
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    page.get_by_role("tab", name="Explore").click()
    track = page.locator("#ex-taste input[type=range]")
    track.scroll_into_view_if_needed(timeout=TIMEOUT)
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    for k in range(1, 9):  # one drag, eight moves
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.05 * k), y)
    page.mouse.up()
    wait_toast(page, "No taste yet")
    page.wait_for_function("() => document.querySelector('#ex-taste input[type=range]').value === '0'", timeout=TIMEOUT)
    assert len([t for t in toasts(page) if "No taste yet" in t]) == 1, toasts(page)


def test_an_upload_name_is_shown_as_text(page, server, tmp_path):
    page.goto(f"{server}?model=tiny-vae&seed=3&n=1")
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    page.get_by_role("tab", name="Explore").click()
    upload = tmp_path / "_x_ [link](e.org).png"
    Image.fromarray((np.indices((28, 28)).sum(0) * 4 % 256).astype(np.uint8)).save(upload)
    with page.expect_file_chooser() as chooser:
        page.click("#ex-upload")
    chooser.value.set_files(str(upload))
    status = wait_for_text(page, "#ex-status", "your image")
    assert "[link](e.org)" in status, status  # (Gradio itself drops the asterisks from upload names)
    assert page.locator("#ex-status strong, #ex-status a").count() == 0


@pytest.fixture
def own_server(models_dir, tmp_path):
    """An app of its own, so a version added during the test cannot leak into other tests."""
    import shutil

    from aigc.service.studio import Studio
    from tests.app.helpers import running

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(models_dir / "tiny-gan.safetensors", folder / "tiny-gan.safetensors")
    with Studio.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", models_dir=folder, threads=1) as studio:
        with running(studio) as demo:
            yield demo.local_url, studio, folder


def test_a_new_version_appears_in_open_pages_without_a_reload(page, own_server, models_dir):
    import shutil

    url, studio, folder = own_server
    page.goto(f"{url}?model=tiny-gan&seed=1&n=1")
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    shutil.copy(models_dir / "tiny-vae.safetensors", folder / "tiny-vae-new.safetensors")
    studio.refresh()  # what a finished fine-tune does (jobs' on_done)
    page.locator("#gen-model input").click()
    page.get_by_role("option", name=re.compile("tiny-vae-new")).wait_for(timeout=TIMEOUT)
    page.get_by_role("option", name=re.compile("tiny-vae-new")).click()  # picking it shows its images at once
    status = wait_for_text(page, "#gen-status", "from `?tiny-vae-new")
    first = re.search(r"samples? #(\d+)", status)
    assert first
    wait_for_text(page, "#card-0 figcaption", f"#{first.group(1)}\\b")  # its sample id (the card may land later)
    # one pick, one draw: the dropdown sends `input` twice per click, and the echo drew (and recorded) it again
    drawn = [v.n_samples for v in studio.store.stats_per_version() if v.name == "tiny-vae-new"]
    assert drawn == [1], drawn
    page.get_by_role("tab", name="Explore").click()
    page.locator("#ex-model input").click()
    page.get_by_role("option", name=re.compile("tiny-vae-new")).wait_for(timeout=TIMEOUT)
    # the explorer's pick goes through the same gate: one start point per pick (its echo decoded it again)
    opened: list[str] = []
    latent_of = studio.latent_of

    def counted(name, *args, **kwargs):
        opened.append(name)
        return latent_of(name, *args, **kwargs)

    studio.latent_of = counted
    try:
        page.get_by_role("option", name=re.compile("tiny-vae-new")).click()
        wait_for_text(page, "#ex-status", "tiny-vae-new")
        page.locator("#intro").click()  # the box loses focus: when Gradio sends the pick's echo
        page.wait_for_timeout(1000)
    finally:
        studio.latent_of = latent_of
    assert opened.count("tiny-vae-new") == 1, opened
