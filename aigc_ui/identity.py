"""Who is rating: the login with --auth, else an anonymous rater id kept in the browser as a cookie.

Why a cookie set by the server: Gradio's session hash changes on every page load, so "you" used to be
one page load (a reload emptied History, made rated cards look unrated, and rating them again duplicated
data). The `RaterCookie` middleware gives a browser that has no `aigc_rater` cookie a random one with
the page (an HTML GET; never with assets fetched in parallel, which would race it), and every later
request of that browser (a reload, a new tab, the page after an app restart) carries it.
gr.BrowserState is not used for the id: its default secret is drawn per process, so after a restart
the stored value could not be read back.

With --auth the login name is the identity and the cookie is ignored.
"""

from __future__ import annotations

import re
import uuid
from http.cookies import SimpleCookie

COOKIE = "aigc_rater"
MAX_AGE_S = 400 * 24 * 3600  # the longest lifetime browsers accept
_VALID = re.compile(r"^anon-[0-9a-f]{32}$")


def new_rater_id() -> str:
    return f"anon-{uuid.uuid4().hex}"


def rater_from_cookie(header: str | None) -> str | None:
    """The anonymous rater id in a Cookie header, if there is a well-formed one (anything else is ignored)."""
    if not header:
        return None
    try:
        jar = SimpleCookie()
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is as good as none
        return None
    value = jar[COOKIE].value if COOKIE in jar else None
    return value if value and _VALID.match(value) else None


class RaterCookie:
    """ASGI middleware: every browser carries an `aigc_rater` cookie from its first request on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        cookie = b"; ".join(v for k, v in headers if k == b"cookie").decode("latin-1")
        accept = b" ".join(v for k, v in headers if k == b"accept")
        # only the page itself hands out an id: assets fetched in parallel must not race it with others
        if rater_from_cookie(cookie) or scope["method"] != "GET" or b"text/html" not in accept:
            await self.app(scope, receive, send)
            return
        rater = new_rater_id()
        joined = f"{cookie}; {COOKIE}={rater}" if cookie else f"{COOKIE}={rater}"
        scope = {**scope, "headers": [(k, v) for k, v in headers if k != b"cookie"] + [(b"cookie", joined.encode())]}
        set_cookie = f"{COOKIE}={rater}; Path=/; Max-Age={MAX_AGE_S}; SameSite=Lax; HttpOnly".encode("latin-1")

        async def with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app(scope, receive, with_cookie)


def rater_middleware():
    from starlette.middleware import Middleware

    return Middleware(RaterCookie)
