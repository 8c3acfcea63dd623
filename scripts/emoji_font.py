"""Rebuild `aigc_ui/fonts/aigc-emoji.ttf`: the emoji the page's sources use, cut from Noto Color Emoji.

Why a subset: the whole font is 11 MB and the page uses about twenty emoji (34 KB). See `aigc_ui/emoji.py` for
why the page carries them at all. Needs fontTools (matplotlib installs it) and Debian's
`fonts-noto-color-emoji` (or `--source` another copy of NotoColorEmoji.ttf). Run it after adding an emoji to
the page; `tests/app/test_emoji.py` names any emoji the shipped subset lacks.

    python scripts/emoji_font.py [--source /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aigc_ui.emoji import FONT_PATH as TARGET  # noqa: E402
from aigc_ui.emoji import page_symbols  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
    args = p.parse_args(argv)
    source = TTFont(args.source)
    # the page's symbols this font has (text symbols such as ↻ are every text font's, and not in it)
    wanted = sorted({ord(ch) for ch in page_symbols()} & set(source.getBestCmap()))
    options = subset.Options()
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(source)
    source.save(TARGET)
    print(f"{TARGET.relative_to(ROOT)}: {len(wanted)} emoji, {TARGET.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
