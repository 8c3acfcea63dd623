"""A fine-tune started in the page, in a real browser: a reload mid-run finds the run again and shows its child.

Before, a reloaded page showed "0% · idle" on the default model; the run went on, but that page never showed it
nor its new version. The run is held at start-up by a gate (tests/gate.py), so the reload happens mid-run on any
machine: a handshake, not a race.
"""

from __future__ import annotations

import pytest

from tests.app.helpers import TIMEOUT, app_of_its_own, wait_for_text
from tests.gate import held_children

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def ft_server(models_dir, home, tmp_path_factory):
    """Its own app, database and models folder: the child it makes must not leak into other tests."""
    with app_of_its_own(models_dir, tmp_path_factory, "ft") as (studio, demo):
        batch = studio.sample("tiny-vae", 24, 5, rater="someone")  # everyone's ratings make a run ready
        for i, sample_id in enumerate(batch.sample_ids):
            studio.rate(sample_id, 1.0 if i % 2 else -1.0, "someone")
        yield demo.local_url, studio


def open_finetune(page, server) -> None:
    page.goto(server)
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    page.get_by_role("tab", name="Fine-tune").click()


def test_a_reload_mid_run_follows_the_run_and_shows_its_child(chromium, ft_server, tmp_path):
    server, studio = ft_server
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_finetune(page, server)
        page.locator("#ft-model input").click()
        page.get_by_role("option", name="tiny-vae", exact=False).first.click()
        wait_for_text(page, "#ft-ready", "ready")
        page.locator("#ft-steps input[type=number]").fill("20")
        page.locator("#ft-steps input[type=number]").press("Enter")
        with held_children(tmp_path / "gate") as gate:
            page.click("#ft-start")
            gate.wait_for_child()  # the run's process exists and cannot finish until the gate opens
            page.reload()
            open_finetune(page, server)
            page.wait_for_selector("#ft-progress[data-state=running]", timeout=TIMEOUT)
            assert page.locator("#ft-model input").input_value().startswith("tiny-vae")
            wait_for_text(page, "#ft-start", "Training")  # the button rests while the person's own run trains
            assert page.locator("#ft-start").is_disabled()

            other = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()  # another person
            try:
                open_finetune(other, server)
                other.locator("#ft-model input").click()
                other.get_by_role("option", name="tiny-vae", exact=False).first.click()
                wait_for_text(other, "#ft-ready", "ready")
                assert other.locator("#ft-progress").get_attribute("data-state") == "idle"  # not theirs to follow
                wait_for_text(other, "#ft-ready", "Someone else's run of `?tiny-vae`? is training")  # they hear of it
            finally:
                other.context.close()
        page.wait_for_selector("#ft-progress[data-state=succeeded]", timeout=180_000)
        child = studio.finetune_status("tiny-vae").child
        assert child and child.startswith("tiny-vae-ft")
        page.locator("#ft-childgal img").first.wait_for(timeout=TIMEOUT)  # the reloaded page shows the new version
        assert page.locator("#ft-child input").input_value().startswith(child)
        wait_for_text(page, "#ft-figures", "What next")
        page.wait_for_function("!document.querySelector('#ft-start').disabled", timeout=TIMEOUT)  # the run is over
        later = context.new_page()  # a page opened after the run: "Fine-tuned version" is the new one, not a parent
        open_finetune(later, server)
        later.wait_for_function(
            "c => (document.querySelector('#ft-child input')?.value || '').startsWith(c)", arg=child, timeout=TIMEOUT
        )
        later.click("#ft-show")
        later.locator("#ft-childgal img").first.wait_for(timeout=TIMEOUT)
        assert not errors, errors
    finally:
        context.close()
