"""Disk bounded: uploads are refused while Gradio's upload folder holds more than the deployment's budget.

Why: every file posted to `POST /gradio_api/upload` is stored in Gradio's folder and kept for hours
(`delete_cache`), whether or not an endpoint ever reads it. The size rule (10 MB a file) and the upload
quota (files per minute) bound the rate, not the total: at the quota's deployment-wide 60 files a minute
of 9.9 MB, six hours of keeping is ~200 GB. So this ASGI middleware keeps the total under
`Limits.max_upload_space_bytes`: over it, 507 and one line; the body is never read. The folder's size is
measured at most every `rescan_s` seconds (a walk of thousands of files is not free) and accepted uploads
are added to it in between.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import anyio

from .auth import reply

RESCAN_S = 10.0


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder` (0 when it does not exist yet)."""
    total, todo = 0, [folder]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _size(n: int) -> str:
    return f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"


class UploadSpace:
    """ASGI middleware: refuse `POST …/upload` while the upload folder is over `max_bytes`."""

    def __init__(self, app, folder: str | os.PathLike, max_bytes: int, rescan_s: float = RESCAN_S):
        self.app, self.folder, self.max_bytes, self.rescan_s = app, Path(folder), max_bytes, rescan_s
        self._used, self._measured = 0, float("-inf")
        self._lock = threading.Lock()

    def used(self) -> int:
        with self._lock:
            if time.monotonic() - self._measured >= self.rescan_s:
                self._used, self._measured = folder_bytes(self.folder), time.monotonic()
            return self._used

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/upload"):
            length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), b"0")
            try:
                incoming = max(0, int(length))
            except ValueError:
                incoming = 0
            used = await anyio.to_thread.run_sync(self.used)  # a folder walk: not on the event loop
            if used + incoming > self.max_bytes:
                await reply(send, 507, f"the server's upload space ({_size(self.max_bytes)}) is full; try again later")
                return
            with self._lock:
                self._used += incoming  # counted until the next scan measures it
        await self.app(scope, receive, send)


def upload_space_middleware(folder: str | os.PathLike, max_bytes: int):
    from starlette.middleware import Middleware

    return Middleware(UploadSpace, folder=folder, max_bytes=max_bytes)
