"""The documents' relative links and pictures point at files that exist.

Why: the README, CONTRIBUTING, the benchmarks' README and docs/ link to each other and show pictures from
docs/; a move (the feedback measurements left the README for docs/FEEDBACK_MEASUREMENTS.md) must not leave
a link or a picture dangling on the page a person opens first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def relative_targets(text: str) -> list[str]:
    """The link targets in markdown `text` that name a file of the repository (no scheme, no bare anchor)."""
    targets = (m.group(1).split("#", 1)[0] for m in LINK.finditer(text))
    return [t for t in targets if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_the_link_finder_sees_links_and_pictures_and_skips_urls_and_anchors():
    text = "see [a](docs/A.md#part), ![p](docs/p.png), [web](https://x.org/y), [here](#top), [m](mailto:a@b)"
    assert relative_targets(text) == ["docs/A.md", "docs/p.png"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_of_a_document_exists(document: Path):
    missing = [t for t in relative_targets(document.read_text()) if not (document.parent / t).exists()]
    assert not missing, f"{document.relative_to(ROOT)} links to files that do not exist: {missing}"
