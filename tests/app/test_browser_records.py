"""What you see is what you rate, in a real browser: at the moment of a 👍/👎 click, the pixels on screen
equal the decoded latent of the sample the stored rating points to, on every surface that can rate
(cards, explorer after Reset / Randomise / a model switch, children, interpolation frames, History);
at a blind A/B pick, A and B on screen are the stored pick's two samples and the pick names the side
clicked; and the blind A/B reveals nothing until the person ends the session.

The rated sample is found in the database (the rating that appeared after the click), never taken from
the page's own claim, so a page that shows one picture and rates another fails here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from feedback_db import FeedbackStore
from tests.app.helpers import TIMEOUT, eventually, fetch_pixels, wait_for_text

pytestmark = pytest.mark.browser

# Read the pictures and click in one script turn: what is captured is what was on screen at the click.
CAPTURE_AND_CLICK = """
([imgSels, buttonSel]) => {
  const imgs = imgSels.map((sel) => document.querySelector(sel)), button = document.querySelector(buttonSel);
  if (imgs.some((img) => !img?.src) || !button) return null;
  const srcs = imgs.map((img) => img.src);
  button.click();
  return srcs;
}
"""


@pytest.fixture(scope="module")
def store(db_url):
    with FeedbackStore(db_url) as s:
        yield s


def snapshot(store, studio) -> dict:
    """Every stored rating: (sample, rater) → (score, when)."""
    out = {}
    for name in ("tiny-gan", "tiny-vae"):
        for r in store.ratings_for_lineage(studio.version(name).id, include_ancestors=False):
            out[(r.sample_id, r.rater_id)] = (r.score, r.rated_at)
    return out


def assert_shows(shown: np.ndarray, studio, sample_id: int) -> None:
    """The pixels shown (upscaled by a whole factor) are exactly the decoded stored latent of the sample."""
    name, z = studio.sample_info(sample_id)
    expected = studio.decode(name, z)[:, :, 0]
    scale = shown.shape[0] // expected.shape[0]
    np.testing.assert_array_equal(shown[::scale, ::scale], expected, err_msg=f"#{sample_id} is not what was shown")


def rate_and_check(page, store, studio, img_sel: str, button_sel: str, score: float = 1.0) -> int:
    """Click, then assert the new rating's sample decodes to exactly the pixels shown at the click."""
    before = snapshot(store, studio)
    srcs = page.evaluate(CAPTURE_AND_CLICK, [[img_sel], button_sel])
    assert srcs, f"nothing to click at {img_sel} / {button_sel}"
    shown = fetch_pixels(page, srcs[0])
    new: list = []

    def rated() -> bool:
        new[:] = [k for k, v in snapshot(store, studio).items() if before.get(k) != v]
        return bool(new)

    assert eventually(rated, 20), "the click stored no rating"
    assert len(new) == 1, new
    sample_id = new[0][0]
    assert_shows(shown, studio, sample_id)
    assert snapshot(store, studio)[new[0]][0] == score
    return sample_id


def drag(page, slider: int, presses: int = 20) -> None:
    """Move explorer slider `slider` with the keyboard; wait until the picture changed and no move is in flight."""
    before = page.locator("#ex-image img").get_attribute("src")
    handle = page.locator(f"#ex-slider-{slider} input[type=range]")
    handle.focus()
    for _ in range(presses):
        handle.press("ArrowRight")
    page.wait_for_function(
        """(old) => { const v = document.querySelector('#ex-image [data-moving]');
                      return v && v.dataset.moving === '0' && v.querySelector('img')?.src !== old; }""",
        arg=before,
        timeout=TIMEOUT,
    )


def new_view(page, action) -> None:
    """Run `action` (a click that points the explorer somewhere) and wait for the view it sends back."""
    token = page.locator("#ex-image .aigc-view").get_attribute("data-token")
    action()
    page.wait_for_function(
        "(old) => document.querySelector('#ex-image .aigc-view')?.dataset.token !== old", arg=token, timeout=TIMEOUT
    )


def open_explorer(page, server, model: str = "tiny-vae") -> None:
    page.goto(f"{server}?model={model}&seed=5")
    page.wait_for_selector("#card-0 img", timeout=TIMEOUT)
    page.get_by_role("tab", name="Explore").click()
    page.locator("#ex-slider-0 input[type=range]").wait_for(timeout=TIMEOUT)


def test_explorer_rates_the_picture_on_screen_after_reset_and_randomise(page, server, store, studio):
    open_explorer(page, server)
    drag(page, 0)
    drag(page, 1)
    drag(page, 2)
    rate_and_check(page, store, studio, "#ex-image img", "#ex-like")  # the dragged picture

    new_view(page, lambda: page.click("#ex-reset"))
    rate_and_check(page, store, studio, "#ex-image img", "#ex-like")  # back at the start, and that is rated

    new_view(page, lambda: page.click("#ex-random"))
    drag(page, 0)
    new_view(page, lambda: page.click("#ex-reset"))
    rate_and_check(page, store, studio, "#ex-image img", "#ex-dislike", score=-1.0)
    assert not page.errors, page.errors


def test_explorer_rates_the_picture_on_screen_after_a_model_switch(page, server, store, studio):
    open_explorer(page, server)
    drag(page, 0)

    def switch():
        page.locator("#ex-model input").click()
        page.get_by_role("option", name=re.compile("tiny-gan")).click()

    new_view(page, switch)
    sample_id = rate_and_check(page, store, studio, "#ex-image img", "#ex-like")
    assert studio.sample_info(sample_id)[0] == "tiny-gan"
    drag(page, 1)
    rate_and_check(page, store, studio, "#ex-image img", "#ex-dislike", score=-1.0)


def test_two_quick_generates_leave_cards_that_rate_what_they_show(page, server, store, studio):
    page.goto(f"{server}?model=tiny-gan&seed=1&n=4")
    wait_for_text(page, "#gen-status", r"seed 1 ")
    seed = page.locator("#gen-seed input")
    seed.fill("2001")
    page.click("#gen-go")
    seed.fill("2002")
    page.click("#gen-go")
    wait_for_text(page, "#gen-status", r"seed 2002 ")
    for i in range(4):
        sample_id = rate_and_check(page, store, studio, f"#card-{i} img", f"#like-{i}")
        assert store.get_sample(sample_id).seed == 2002
    wait_for_text(page, "#card-3", "liked")
    assert "4 images" in page.locator("#gen-status").inner_text()


def test_children_frames_and_history_rate_what_they_show(page, server, store, studio):
    open_explorer(page, server)
    page.click("#ex-children-go")
    page.locator("#child-like-7").wait_for(timeout=TIMEOUT)
    rate_and_check(page, store, studio, "#child-card-3 img", "#child-like-3")
    rate_and_check(page, store, studio, "#child-card-5 img", "#child-dislike-5", score=-1.0)

    page.get_by_role("tab", name="Interpolate").click()
    page.click("#ip-go")
    page.locator("#frame-like-4").wait_for(timeout=TIMEOUT)
    rate_and_check(page, store, studio, "#frame-card-4 img", "#frame-like-4")

    page.get_by_role("tab", name="History").click()
    page.locator("#hist-like-2").wait_for(timeout=TIMEOUT)
    rate_and_check(page, store, studio, "#hist-card-2 img", "#hist-dislike-2", score=-1.0)
    assert not page.errors, page.errors


@pytest.fixture(scope="module")
def ab_server(models_dir, tmp_path_factory):
    """Its own app whose tiny-gan has a child (its weights nudged), so a blind A/B has two sides."""
    import dataclasses
    import shutil

    import torch

    from aigc.models.checkpoint import save_model
    from aigc.models.pipeline import load_model
    from aigc.service.studio import Studio
    from tests.app.helpers import running

    folder = tmp_path_factory.mktemp("ab-models")
    shutil.copy(models_dir / "tiny-gan.safetensors", folder / "tiny-gan.safetensors")
    parent = load_model(folder / "tiny-gan.safetensors")
    with torch.no_grad():
        for p in parent.module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    record = dataclasses.replace(parent.record, name="tiny-gan-child", parent="tiny-gan")
    db = f"sqlite:///{tmp_path_factory.mktemp('ab-db') / 'feedback.sqlite3'}"
    with Studio.open(db, models_dir=folder, threads=1) as studio:
        # the child arrives after its parent is registered, as a fine-tune's does
        studio.add_version(save_model(folder / "tiny-gan-child.safetensors", parent.module, record))
        with running(studio) as demo:
            yield demo.local_url, studio


def start_ab(page, server) -> None:
    """Open the Fine-tune tab, choose the child and start a blind A/B: pair 1 is on screen."""
    page.goto(server)
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#ft-child input").click()
    page.get_by_role("option", name=re.compile("tiny-gan-child")).click()
    page.click("#ab-new")
    wait_for_text(page, "#ab-progress", "Pair 1")
    page.locator("#ab-right img").wait_for(timeout=TIMEOUT)


def test_blind_ab_reveals_nothing_until_the_session_ends(page, ab_server):
    server, studio = ab_server
    parent, child = studio.version("tiny-gan").id, studio.version("tiny-gan-child").id
    earlier = studio.store.comparison_stats(parent, child)  # the module's other A/B test may have picked first
    start_ab(page, server)
    hidden = re.compile(r"child|parent|win rate|preferred", re.I)
    for k, button in enumerate(["#ab-left-btn", "#ab-right-btn", "#ab-tie"], start=1):
        old = page.locator("#ab-left img").get_attribute("src")
        page.click(button)  # one click per judgement: it records and shows the next pair
        wait_for_text(page, "#ab-progress", rf"{k} picks? recorded\. Pair {k + 1}")
        page.wait_for_function(
            "(old) => (document.querySelector('#ab-left img')?.src || old) !== old", arg=old, timeout=TIMEOUT
        )
        revealed = page.locator("#ab-progress").inner_text() + page.locator("#ab-stats").inner_text()
        assert not hidden.search(revealed), revealed
        toasts = page.locator(".toast-body, [data-testid='toast-body']").all_inner_texts()
        assert not any(hidden.search(t) for t in toasts), toasts
    stats = studio.store.comparison_stats(parent, child)
    assert stats.n - earlier.n == 3 and stats.ties - earlier.ties == 1
    page.click("#ab-end")
    wait_for_text(page, "#ab-progress", r"^Session ended after 3 picks\.$")
    tally = wait_for_text(page, "#ab-stats", r"Child preferred in")
    decided = stats.wins + stats.losses
    assert f"in {stats.wins} of {decided} decided picks" in tally and f"{stats.ties} ties" in tally, tally

    page.reload()  # the tally is the database's: a reload (or a restart) shows the same
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#ft-child input").click()
    page.get_by_role("option", name=re.compile("tiny-gan-child")).click()
    page.click("#ab-end")
    wait_for_text(page, "#ab-progress", r"^Session ended after 0 picks\.$")  # this page's session: none yet
    assert wait_for_text(page, "#ab-stats", r"Child preferred in") == tally
    assert not page.errors, page.errors


def picks_since(studio, before: set[int]) -> list:
    """The blind picks stored after a click (waits for the first), read from the database."""
    new: list = []

    def picked() -> bool:
        new[:] = [c for c in studio.store.comparisons() if c.id not in before]
        return bool(new)

    assert eventually(picked, 20), "the click stored no pick"
    return new


def test_blind_ab_picks_the_pair_on_screen_for_the_side_clicked(page, ab_server):
    """At each pick, A and B on screen are the decoded stored latents of the stored pick's left and right
    samples (parent and child on one seed), and the pick names the side that was clicked."""
    server, studio = ab_server
    parent, child = studio.version("tiny-gan").id, studio.version("tiny-gan-child").id
    start_ab(page, server)
    for k, (button, side) in enumerate([("#ab-left-btn", "left"), ("#ab-right-btn", "right"), ("#ab-tie", None)], 1):
        before = {c.id for c in studio.store.comparisons()}
        srcs = page.evaluate(CAPTURE_AND_CLICK, [["#ab-left img", "#ab-right img"], button])
        assert srcs, f"no pair on screen to pick with {button}"
        shown = [fetch_pixels(page, src) for src in srcs]
        new = picks_since(studio, before)
        assert len(new) == 1, new  # one click, one judgement
        pick = new[0]
        assert_shows(shown[0], studio, pick.left_sample_id)
        assert_shows(shown[1], studio, pick.right_sample_id)
        assert pick.picked_sample_id == (None if side is None else getattr(pick, f"{side}_sample_id"))
        left, right = studio.store.get_samples([pick.left_sample_id, pick.right_sample_id])
        assert {left.version_id, right.version_id} == {parent, child} and left.seed == right.seed
        wait_for_text(page, "#ab-progress", rf"{k} picks? recorded\. Pair {k + 1}")
        page.wait_for_function(  # the next pair is on screen before the next pick
            "(old) => (document.querySelector('#ab-left img')?.src || old) !== old", arg=srcs[0], timeout=TIMEOUT
        )
    assert not page.errors, page.errors


def test_rapid_clicks_on_several_cards_each_rate_the_picture_clicked(page, server, store, studio):
    page.goto(f"{server}?model=tiny-vae&seed=6060&n=6")
    wait_for_text(page, "#gen-status", r"seed 6060 ")
    page.locator("#card-5 img").wait_for(timeout=TIMEOUT)
    before = snapshot(store, studio)
    srcs = page.evaluate(  # six clicks one animation frame apart: each while the one before is in flight
        """async () => {
             const srcs = [];
             for (const i of [0, 1, 2, 3, 4, 5]) {
               srcs.push(document.querySelector(`#card-${i} img`).src);
               document.querySelector(`#${i % 2 ? 'dislike' : 'like'}-${i}`).click();
               await new Promise((r) => requestAnimationFrame(r));
             }
             return srcs;
           }"""
    )
    shown = [fetch_pixels(page, src) for src in srcs]
    new: list = []

    def all_stored() -> bool:
        new[:] = [k for k, v in snapshot(store, studio).items() if before.get(k) != v]
        return len(new) >= 6

    assert eventually(all_stored, 30), f"only {len(new)} of 6 rapid clicks were stored"
    assert len(new) == 6
    matched = set()
    for sample_id, rater in new:
        name, z = studio.sample_info(sample_id)
        expected = studio.decode(name, z)[:, :, 0]
        scale = shown[0].shape[0] // expected.shape[0]
        hits = [i for i, pixels in enumerate(shown) if np.array_equal(pixels[::scale, ::scale], expected)]
        assert hits, f"#{sample_id} was rated but never shown"
        i = hits[0]
        assert snapshot(store, studio)[(sample_id, rater)][0] == (-1.0 if i % 2 else 1.0)
        matched.add(i)
    assert matched == set(range(6))


def test_like_then_dislike_in_the_explorer_is_one_sample_changed_not_two(page, server, store, studio):
    open_explorer(page, server)
    drag(page, 3)
    before = snapshot(store, studio)
    src = page.evaluate(
        """async () => {
             const src = document.querySelector('#ex-image img').src;
             document.querySelector('#ex-like').click();
             await new Promise((r) => requestAnimationFrame(r));
             document.querySelector('#ex-dislike').click();
             return src;
           }"""
    )
    wait_for_text(page, "#ex-status", r"disliked \(sample #\d+\)")
    new: list = []

    def settled() -> bool:
        new[:] = [(k, v[0]) for k, v in snapshot(store, studio).items() if before.get(k) != v]
        return any(score == -1.0 for _, score in new)

    assert eventually(settled, 20), new
    assert len(new) == 1, new  # one picture, one sample, its rating changed
    (sample_id, _), _ = new[0]
    assert_shows(fetch_pixels(page, src), studio, sample_id)
