"""Less friction, in a real browser at phone width (390 px): every tab in sight, one card per line with its
buttons beside the picture, card buttons with accessible names and 44 px touch targets, `L`/`D` on a focused
card, no toast per rating, plain slider labels with the technical figure on hover."""

from __future__ import annotations

import pytest

from feedback_db import FeedbackStore
from tests.app.helpers import TIMEOUT, eventually, rating_of, wait_for_text

pytestmark = pytest.mark.browser
TOASTS = ".toast-body, [data-testid='toast-body']"


@pytest.fixture(scope="module")
def store(db_url):
    with FeedbackStore(db_url) as s:
        yield s


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def test_cards_are_named_big_enough_and_take_l_and_d(phone, server, store):
    page = phone
    page.goto(f"{server}?model=tiny-gan&seed=77&n=2")
    wait_for_text(page, "#gen-status", r"seed 77 ")
    page.locator("#card-1 img").wait_for(timeout=TIMEOUT)
    for name in ("Like", "Dislike", "Open in explorer"):
        buttons = page.locator("#gen-cards").get_by_role("button", name=name, exact=True)
        assert buttons.count() == 2, name
        for k in range(2):
            box = buttons.nth(k).bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, (name, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)  # on screen at phone width

    first = int(page.locator("#card-0").get_attribute("data-id"))
    second = int(page.locator("#card-1").get_attribute("data-id"))
    page.locator("#card-0").focus()
    page.keyboard.press("l")
    assert eventually(lambda: rating_of(store, first) == [1.0], 20)
    wait_for_text(page, "#card-0", "liked")
    page.keyboard.press("d")  # changing one's mind from the keyboard
    assert eventually(lambda: rating_of(store, first) == [-1.0], 20)
    page.locator("#card-1").focus()
    page.keyboard.press("D")
    assert eventually(lambda: rating_of(store, second) == [-1.0], 20)
    wait_for_text(page, "#gen-tally", r"You have rated 2 images")
    assert page.locator(TOASTS).count() == 0  # the card shows the rating; no toast stacks over the controls
    assert not page.errors, page.errors


def test_at_phone_width_every_tab_shows_and_nothing_is_squeezed(phone, server):
    page = phone
    page.goto(f"{server}?model=tiny-gan&seed=78&n=2")
    wait_for_text(page, "#gen-status", r"seed 78 ")
    page.locator("#card-1 img").wait_for(timeout=TIMEOUT)
    tabs = page.get_by_role("tab")
    assert tabs.count() == 6 and all(tabs.nth(k).is_visible() for k in range(6))  # none hidden in a "⋯" menu
    assert page.get_by_role("button", name="More tabs").count() == 0

    def box(selector: str) -> dict:
        return page.locator(selector).first.bounding_box()

    grid, card, image, like = box("#gen-cards .aigc-cards"), box("#card-0"), box("#card-0 img"), box("#like-0")
    assert card["width"] >= 0.95 * grid["width"], (card, grid)  # one card per line, not a thin column
    assert like["x"] >= image["x"] + image["width"], (like, image)  # its buttons beside the picture
    assert box("#card-1")["y"] >= card["y"] + card["height"]
    assert box("#who")["width"] >= 300 and box("#who-name")["width"] >= 300  # a line each
    name_shown = page.evaluate(
        "() => { const i = document.querySelector('#gen-model input'); return i.scrollWidth <= i.clientWidth; }"
    )
    assert name_shown, "the model's name is cut off"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    # the blind A/B's two pictures side by side, and its three picks in one row (they stacked, A above B)
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#ab-left").wait_for(timeout=TIMEOUT)
    # measured in one frame: boxes read one by one while the tab still lays out differ by what moved between
    ids = ["ab-left", "ab-right", "ab-left-btn", "ab-tie", "ab-right-btn"]
    rects = page.evaluate(
        "(ids) => ids.map((id) => { const r = document.getElementById(id).getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width}; })",
        ids,
    )
    left, right, *picks = rects
    assert abs(left["y"] - right["y"]) < 2 and right["x"] >= left["x"] + left["width"], (left, right)
    assert max(b["y"] for b in picks) - min(b["y"] for b in picks) < 2, picks
    assert not page.errors, page.errors


# The luminance (0 black, 1 white) of an element's text colour, or of its background as seen: its translucent
# background composited over those of the elements under it, down to the first opaque one.
LUMINANCE = """([selector, prop]) => {
  const rgba = (s) => {
    const v = s.match(/[\\d.]+/g).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const el = document.querySelector(selector);
  let [r, g, b] = rgba(getComputedStyle(el).color);
  if (prop === 'background') {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    [r, g, b] = [255, 255, 255];
    for (const [cr, cg, cb, a] of layers.reverse()) {
      [r, g, b] = [cr * a + r * (1 - a), cg * a + g * (1 - a), cb * a + b * (1 - a)];
    }
  }
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


def test_a_browser_set_to_dark_gets_no_bright_blocks(chromium, server):
    """Gradio follows the system's dark mode: the page's own colours (a rated card's button, the fine-tune bar)
    follow the theme too, with its text still readable."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(f"{server}?model=tiny-gan&seed=79&n=2")
        page.locator("#card-1 img").wait_for(timeout=TIMEOUT)
        page.click("#like-0")
        wait_for_text(page, "#card-0", "liked")
        assert page.evaluate(LUMINANCE, ["#like-0", "background"]) < 0.35
        page.get_by_role("tab", name="Fine-tune").click()
        page.locator("#ft-progress").wait_for(timeout=TIMEOUT)
        assert page.evaluate(LUMINANCE, ["#ft-progress", "background"]) < 0.35
        assert page.evaluate(LUMINANCE, ["#ft-progress-label", "color"]) > 0.7
    finally:
        context.close()


def test_sliders_say_plain_words_and_keep_the_figure_on_hover(page, server):
    page.goto(f"{server}?model=tiny-vae&seed=1&n=1")
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    wait_for_text(page, "#gen-status", r"^1 image from tiny-vae, seed 1 · sample #\d+$")  # one: no plural
    page.get_by_role("tab", name="Explore").click()
    wait_for_text(page, "#ex-slider-0", r"direction 1 \(most used\)")
    page.wait_for_function(
        "() => (document.getElementById('ex-slider-0')?.title || '').includes('KL')", timeout=TIMEOUT
    )
    assert "KL" not in page.locator("#ex-slider-0").inner_text()


def test_the_finetune_button_says_why_it_is_disabled(page, server):
    page.goto(f"{server}?model=tiny-vae&seed=1&n=1")
    page.locator("#card-0 img").wait_for(timeout=TIMEOUT)
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#ft-mine input").check()  # only this (new) person's ratings: none yet
    wait_for_text(page, "#ft-start", r"needs 20 more rating\(s\), 3 more like\(s\), 3 more dislike\(s\)")
    assert page.locator("#ft-start").is_disabled()
