"""The page's icons in every browser: the emoji it uses, from a subset of Noto Color Emoji inlined as a web font.

Why: the tabs and buttons are emoji (👍 👎 under every picture, 🧭, 🎯, 🎨 …). A browser on a machine without an
emoji font (Debian's chromium installed without its recommended fonts, a container, a CI runner) draws each one
as the same empty box, so liking and disliking look alike. The subset (`fonts/aigc-emoji.ttf`, SIL OFL 1.1,
licence in `fonts/OFL.txt`) comes last in the page's font stack, after the platforms' own emoji fonts: a machine
that has one keeps its own look, and one that has none draws these. Inlined (a data URL in the page's CSS)
rather than served as a file, so it needs no static route and works behind any path prefix.

Regenerate it after adding an emoji to the page: `python scripts/emoji_font.py` (with Debian's
fonts-noto-color-emoji); `tests/app/test_emoji.py` fails until every emoji in `aigc_ui` has its glyph.
"""

from __future__ import annotations

import base64
import unicodedata
from functools import cache
from pathlib import Path

FONT_PATH = Path(__file__).parent / "fonts" / "aigc-emoji.ttf"
FAMILY = "AIGC Emoji"
# what the page's font stack ends with: the platforms' own colour emoji (macOS/iOS, Windows, Android/Linux), then
# ours; a glyph falls through to them only when the text fonts before lack it
FALLBACK_FAMILIES = ("Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji", FAMILY)


@cache
def font_face_css() -> str:
    """The @font-face rule declaring FAMILY from the shipped subset, as a data URL."""
    data = base64.b64encode(FONT_PATH.read_bytes()).decode("ascii")
    return f'@font-face {{ font-family: "{FAMILY}"; src: url(data:font/ttf;base64,{data}) format("truetype"); }}\n'


def page_symbols() -> set[str]:
    """Every pictographic symbol (Unicode category So) in the page's sources: what the subset must hold, bar
    those every text font draws (`scripts/emoji_font.py` cuts them, `tests/app/test_emoji.py` checks them)."""
    here = Path(__file__).parent
    text = "".join(path.read_text(encoding="utf-8") for path in sorted(here.glob("*.py")))
    return {ch for ch in text if unicodedata.category(ch) == "So"}
