"""Guards of the explorer's two fast paths, which bypass Gradio's queue and so its identity: who may move
the view of a private version (a grant the identified event issued), and which of two quick rating clicks
of one page wins (the one made last)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from aigc.service.studio import Studio

from .common import PUBLIC

GRANT_KEY = secrets.token_bytes(32)  # per process: grants die with it, and a page reload fetches new ones


def grant_for(name: str, published: bool = False, key: bytes = GRANT_KEY) -> str:
    """The grant the view sends with each move of `name`; issue it only after `check_visible` passed.

    It names whether `name` was published when it was issued: a visitor's grant from while it was published
    must not outlive an admin's unpublishing (only a grant issued while private opens a private version)."""
    message = f"{name}\n{'published' if published else 'private'}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def is_published(studio: Studio, name: str) -> bool:
    """`models(PUBLIC)` is the registry's cached list (every version without --auth): this costs no query."""
    return any(m.name == name for m in studio.models(PUBLIC))


def may_move(studio: Studio, name: str, grant: object, key: bytes = GRANT_KEY) -> bool:
    """Whether `move` may decode `name`: a published version (anyone may), or a grant issued for it while it
    was private (to someone `check_visible` let see it)."""
    if is_published(studio, name):
        return True
    return isinstance(grant, str) and hmac.compare_digest(grant, grant_for(name, False, key))


class ClickOrder:
    """The newest rating click seen per page load: two quick clicks may reach the server in either order,
    and the one the person made last must win. Bounded (oldest page loads forgotten first)."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self.seen: OrderedDict[str, int] = OrderedDict()
        self.lock = threading.Lock()

    def newest(self, page: str | None, seq) -> bool:
        """True if click `seq` of `page` is newer than every click of that page seen so far (and records it)."""
        if page is None or not isinstance(seq, int | float):
            return True
        with self.lock:
            if self.seen.get(page, -1) > seq:
                return False
            self.seen[page] = int(seq)
            self.seen.move_to_end(page)
            while len(self.seen) > self.size:
                self.seen.popitem(last=False)
            return True
