"""The page remembers the person (real browser): without --auth an anonymous id kept in a cookie makes a
reload, a new tab and a restart of the app the same rater; cards already rated show that rating and
rating them again updates it (no duplicate); History and the rating count survive; a display name is
kept in the browser and shown as typed (never as Markdown)."""

from __future__ import annotations

import pytest

from aigc.service.studio import Studio
from feedback_db import FeedbackStore
from tests.app.helpers import TIMEOUT, eventually, running, wait_for_text

pytestmark = pytest.mark.browser
BATCH = "?model=tiny-gan&seed=3131&n=3"


@pytest.fixture(scope="module")
def store(db_url):
    with FeedbackStore(db_url) as s:
        yield s


def ratings_by(store, studio, rater: str) -> dict[int, float]:
    rated = store.ratings_for_lineage(studio.version("tiny-gan").id, include_ancestors=False)
    return {r.sample_id: r.score for r in rated if r.rater_id == rater}


def open_batch(page, url: str) -> None:
    page.goto(url + BATCH)
    wait_for_text(page, "#gen-status", r"3 images.*seed 3131")
    page.locator("#card-2 img").wait_for(timeout=TIMEOUT)


def test_reload_new_tab_and_restart_are_the_same_person(chromium, studio, store, models_dir, db_url):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with running(studio) as demo:
        open_batch(page, demo.local_url)
        liked, disliked = (int(page.locator(f"#card-{i}").get_attribute("data-id")) for i in (0, 1))
        page.click("#like-0")
        page.click("#dislike-1")
        raters: list[str] = []

        def stored() -> bool:
            raters[:] = sorted(
                {r.rater_id for r in store.ratings_for_lineage(studio.version("tiny-gan").id) if r.sample_id == liked}
            )
            return len(raters) == 1 and ratings_by(store, studio, raters[0]) == {liked: 1.0, disliked: -1.0}

        assert eventually(stored, 20), raters
        rater = raters[0]
        assert rater.startswith("anon-")
        wait_for_text(page, "#gen-tally", r"You have rated 2 images")

        page.reload()  # the same person: the cards show the ratings, and point at the rated samples
        open_batch(page, demo.local_url)
        wait_for_text(page, "#card-0", "liked")
        wait_for_text(page, "#card-1", "disliked")
        assert int(page.locator("#card-0").get_attribute("data-id")) == liked

        tab = context.new_page()  # a new tab: the same again; changing one's mind updates, never duplicates
        open_batch(tab, demo.local_url)
        wait_for_text(tab, "#card-0", "liked")
        tab.click("#dislike-0")
        assert eventually(lambda: ratings_by(store, studio, rater) == {liked: -1.0, disliked: -1.0}, 20)

    with Studio.open(db_url, models_dir=models_dir, threads=1) as restarted, running(restarted) as demo:
        open_batch(page, demo.local_url)
        wait_for_text(page, "#card-0", "disliked")
        wait_for_text(page, "#gen-tally", r"You have rated 2 images")
        page.get_by_role("tab", name="History").click()
        page.locator(f"#hist-gallery [data-id='{liked}']").first.wait_for(timeout=TIMEOUT)
        assert (
            page.locator(f"#hist-gallery .aigc-card[data-id='{disliked}']")
            .first.get_attribute("class")
            .split()
            .count("disliked")
        )
        assert ratings_by(store, studio, rater) == {liked: -1.0, disliked: -1.0}
    assert not page.errors if hasattr(page, "errors") else True
    context.close()


def test_a_display_name_is_kept_and_shown_as_text(page, server):
    page.goto(server)
    box = page.locator("#who-name textarea, #who-name input").first
    box.wait_for(timeout=TIMEOUT)
    wait_for_text(page, "#who", "Rating as")  # the page has loaded: typing now is not a race with its load
    box.fill("**Ann** [x](http://e.org)")
    box.press("Enter")
    wait_for_text(page, "#who", r"\*\*Ann\*\* \[x\]\(http://e\.org\)")
    assert page.locator("#who strong:has-text('Ann') a, #who a[href='http://e.org']").count() == 0
    page.reload()
    wait_for_text(page, "#who", r"\*\*Ann\*\*")
    assert box.input_value() == "**Ann** [x](http://e.org)"
