"""The page's emoji are drawn in every browser: the shipped subset holds each one the page uses, and Chromium
without any emoji font of its own (Debian's, as CI installs it) draws a like button in colour, not as a box."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from aigc_ui import emoji
from tests.app.helpers import TIMEOUT

# symbols every text font draws (DejaVu Sans has them), so they need no emoji glyph
TEXT_SYMBOLS = set("↺↻▶■")
STRIKE = 109  # Noto Color Emoji's one bitmap size: FreeType loads it at this size only


def test_the_shipped_subset_draws_every_emoji_the_page_uses():
    symbols = sorted(emoji.page_symbols() - TEXT_SYMBOLS)
    assert "👍" in symbols and "👎" in symbols and len(symbols) >= 15  # the scan reads the page's sources
    font = ImageFont.truetype(str(emoji.FONT_PATH), STRIKE)

    def drawn(ch: str) -> np.ndarray:
        canvas = Image.new("RGB", (STRIKE + 40, STRIKE + 40), "white")
        ImageDraw.Draw(canvas).text((0, 0), ch, font=font, embedded_color=True)
        return np.asarray(canvas)

    absent = drawn("\ue000")  # a private-use code point no font maps: what a missing glyph looks like
    missing = []
    for ch in symbols:
        picture = drawn(ch)
        inked = int((picture.min(axis=2) < 200).sum())
        if inked < 500 or np.array_equal(picture, absent):
            missing.append(f"{ch} U+{ord(ch):04X}")
    assert not missing, f"not in aigc_ui/fonts/aigc-emoji.ttf (run scripts/emoji_font.py): {missing}"


def test_the_page_declares_the_font_and_puts_it_last_in_its_font_stack(studio):
    from aigc_ui import server

    kwargs = server.launch_kwargs(studio)
    assert kwargs["css"].startswith(emoji.font_face_css()) and "data:font/ttf;base64," in kwargs["css"]
    theme = kwargs["theme"]
    for stack in (theme.font, theme.font_mono):  # the CSS font-family lists Gradio writes into the page
        assert stack.endswith(f"'{emoji.FAMILY}'"), stack
        assert stack.index("'Noto Color Emoji'") < stack.index(f"'{emoji.FAMILY}'")  # a machine's own emoji first


@pytest.mark.browser
def test_a_browser_without_emoji_fonts_draws_the_like_button_in_colour(page, server):
    """And the page's text fonts load: the theme names Montserrat's weights Gradio ships (a missing one was a 404)."""
    missing: list[str] = []
    page.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{server}?model=tiny-vae&seed=3")
    page.wait_for_selector("#card-0 img", timeout=TIMEOUT)
    button = page.locator("#like-0")
    page.wait_for_function("document.fonts.status === 'loaded'")
    rgb = np.asarray(Image.open(io.BytesIO(button.screenshot())).convert("RGB"), dtype=np.int16)
    yellow = int(((rgb[..., 0] > 180) & (rgb[..., 1] > 120) & (rgb[..., 2] < 100)).sum())
    assert yellow > 20, f"the 👍 button has {yellow} yellow pixels: drawn as a missing glyph's box?"
    assert not [m for m in missing if "/fonts/" in m], missing  # every font file the theme names exists
