"""Request bodies bounded before anyone parses them: every call but a file upload is at most 4 MB.

Why: Gradio caps uploaded files (`max_file_size`), but the JSON body of an API call is read and parsed
whole before any handler (and so any rule of aigc.service.limits) sees it: a latent list of 10**8
numbers is a ~1 GB body that Python turns into ~3 GB of floats. The largest legitimate call is far
smaller (a 64-image batch of 512-d latents is ~0.5 MB of JSON), so an ASGI middleware refuses a
larger body with 413 and one line, from its Content-Length up front or, for a chunked body, as soon
as what arrived passes the limit (never holding more than the limit in memory).
"""

from __future__ import annotations

from .auth import reply

MAX_BODY_BYTES = 4 * 2**20


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` except on Gradio's upload route."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> str:
        return (
            f"request body over {self.max_bytes // 2**20} MB: send latents as lists of the model's size "
            "and files through the upload route"
        )

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or scope["path"].rstrip("/").endswith("/upload")  # files: Gradio's max_file_size bounds them
        ):
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await reply(send, 413, self._refusal())
                return
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True  # chunked: read it here, up to the limit, then hand it on
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await reply(send, 413, self._refusal())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def body_limit_middleware(max_bytes: int = MAX_BODY_BYTES):
    from starlette.middleware import Middleware

    return Middleware(BodyLimit, max_bytes=max_bytes)
