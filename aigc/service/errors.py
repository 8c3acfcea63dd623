"""The one error type the service shows to people as it is (torch-free, so every layer above can catch it), and the
one way it tells the studio's owner something: a line in the server's output."""

from __future__ import annotations

import sys


class StudioError(ValueError):
    """A user-facing problem: the message is meant to be shown on the page, in the API and in the CLI as it is."""


def announce(line: str) -> None:
    """One line for the studio's owner, in the server's output (`aigc: …`): what visitors meet but the owner
    would otherwise not see (a fine-tune starting and ending in its own process, the disk floor, the cap on
    visitors' connections)."""
    print(f"aigc: {line}", file=sys.stderr, flush=True)
