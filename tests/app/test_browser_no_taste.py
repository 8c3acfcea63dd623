"""Ratings that show no taste, in a real browser: the page says so before training, and its button rests."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_ui.finetune_tab import NO_TASTE
from tests.app.helpers import TIMEOUT, app_of_its_own, wait_for_text

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def coin_server(models_dir, home, tmp_path_factory):
    """Its own app whose tiny VAE was rated 64 times by a coin (each thumb ignores the picture)."""
    with app_of_its_own(models_dir, tmp_path_factory, "coin") as (studio, demo):
        batch = studio.sample("tiny-vae", 64, 5, rater="coin")
        thumbs = np.where(np.random.default_rng(5).random(64) < 0.5, 1.0, -1.0)
        for sample_id, thumb in zip(batch.sample_ids, thumbs):
            studio.rate(sample_id, float(thumb), "coin")
        yield demo.local_url, studio


def test_the_advice_says_no_taste_and_the_button_rests(chromium, coin_server):
    server, studio = coin_server
    page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto(server)
        page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
        page.get_by_role("tab", name="Fine-tune").click()
        page.locator("#ft-model input").click()
        page.get_by_role("option", name="tiny-vae", exact=False).first.click()
        wait_for_text(page, "#ft-ready", "ready")  # 64 ratings: enough by count...
        wait_for_text(page, "#ft-advice", "No taste found in these 64 ratings")  # ...but they show no taste
        wait_for_text(page, "#ft-start", NO_TASTE.removeprefix("🎯 "))
        page.wait_for_function("document.querySelector('#ft-start').disabled", timeout=TIMEOUT)
        assert studio.finetune_status("tiny-vae").state == "idle"
    finally:
        page.context.close()
