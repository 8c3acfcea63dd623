"""Upload quota: files posted to Gradio's upload route are metered per person and for the deployment.

Gradio stores every file posted to `POST /gradio_api/upload` (the page's upload boxes and every
gradio_client file argument go there first) and keeps it for hours, before any handler of ours
runs. So the meter sits in front of that route, as an ASGI middleware: each upload request is
charged to the logged-in user (Gradio's access-token cookie) or, without a login, to the client's
address, and to the deployment, under the studio's `uploads` quota (aigc.service.quotas). Over
quota: 429 with one line saying when to try again; the request body is never read.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from aigc.service.studio import QuotaExceeded, Quotas

from .auth import address_of, reply


def uploader(scope) -> str:
    """The logged-in user of this request if Gradio knows the cookie, else the client's address (an IPv6 one
    by its /64, as every per-address meter: aigc.service.quotas.address_key; this machine's by itself)."""
    return login_of(scope) or address_of((scope.get("client") or ("unknown", 0))[0])


def login_of(scope) -> str | None:
    """The logged-in user of this ASGI request, if Gradio knows its access-token cookie."""
    app = scope.get("app")
    cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None) or {}
    if cookie_id and tokens:
        header = next((v for k, v in scope.get("headers", []) if k == b"cookie"), b"")
        jar = SimpleCookie()
        try:
            jar.load(header.decode("latin-1"))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just "not logged in"
            jar = SimpleCookie()
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            if name in jar and jar[name].value in tokens:
                return str(tokens[jar[name].value])
    return None


class UploadMeter:
    """ASGI middleware: charge each `POST …/upload` to the uploader's and the deployment's upload quota."""

    def __init__(self, app, quotas: Quotas):
        self.app = app
        self.quotas = quotas

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/upload"):
            try:
                self.quotas.charge("uploads", uploader(scope))
            except QuotaExceeded as exc:
                await reply(send, 429, str(exc))
                return
        await self.app(scope, receive, send)


def upload_middleware(quotas: Quotas):
    from starlette.middleware import Middleware

    return Middleware(UploadMeter, quotas=quotas)
