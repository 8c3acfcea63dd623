"""Request bodies bounded before anyone parses them: every call is at most 4 MB, an upload one file's worth.

Why: Gradio caps uploaded files (`max_file_size`), but the JSON body of an API call is read and parsed
whole before any handler (and so any rule of aigc.service.limits) sees it: a latent list of 10**8
numbers is a ~1 GB body that Python turns into ~3 GB of floats. The largest legitimate call is far
smaller (a 64-image batch of 512-d latents is ~0.5 MB of JSON), so an ASGI middleware refuses a
larger body with 413 and one line, from its Content-Length up front or, for a chunked body, as soon
as what arrived passes the limit (never holding more than the limit in memory).

An upload request may carry one file's allowance (`upload_max_bytes`: the 10 MB rule and the multipart
framing), counted as it streams: Gradio's upload route takes up to 1,000 files in one request, and the upload
quota and the upload space counted one 40-file, 400 MB chunked request as one upload of 0 bytes.
"""

from __future__ import annotations

from .auth import reply

MAX_BODY_BYTES = 4 * 2**20
MULTIPART_FRAMING = 64 * 2**10  # an upload's boundary lines and part headers beside its one file


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes`, and uploads over `upload_max_bytes`."""

    def __init__(self, app, upload_file_bytes: int, max_bytes: int = MAX_BODY_BYTES):
        self.app = app  # `upload_file_bytes`: the studio's one size rule for a file (Limits.max_upload_bytes)
        self.max_bytes, self.upload_max_bytes = max_bytes, upload_file_bytes + MULTIPART_FRAMING

    def _refusal(self) -> str:
        return (
            f"request body over {self.max_bytes // 2**20} MB: send latents as lists of the model's size "
            "and files through the upload route"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        if scope["path"].rstrip("/").endswith("/upload"):
            await self._upload(scope, receive, send)
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

    async def _upload(self, scope, receive, send) -> None:
        """Gradio reads the upload as it streams (a file is not held in memory), so the bytes are counted as
        they pass: past the allowance the route is told the client left, and the answer is 413 instead."""
        limit = self.upload_max_bytes
        most = (limit - MULTIPART_FRAMING) // 2**20
        refusal = f"an upload request carries at most {most} MB (one file's allowance); send files one by one"
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), b"0")
        if not length.isdigit() or int(length) > limit:
            await reply(send, 413, refusal)
            return
        size, tripped, answered = 0, False, False

        async def counted():
            nonlocal size, tripped
            if tripped:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    tripped = True
                    return {"type": "http.disconnect"}
            return message

        async def answer(message):
            nonlocal answered
            if not tripped:  # the route's answer to a body it never got whole is dropped: ours goes instead
                answered = True
                await send(message)

        try:
            await self.app(scope, counted, answer)
        except Exception:
            if not tripped:
                raise
        if tripped and not answered:
            await reply(send, 413, refusal)


def body_limit_middleware(upload_file_bytes: int, max_bytes: int = MAX_BODY_BYTES):
    from starlette.middleware import Middleware

    return Middleware(BodyLimit, upload_file_bytes=upload_file_bytes, max_bytes=max_bytes)
