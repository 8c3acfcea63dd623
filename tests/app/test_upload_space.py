"""Disk bounded: uploads are refused (507, one line, body unread) while kept uploads exceed the budget."""

from __future__ import annotations

import json

from aigc_ui.upload_space import UploadSpace, folder_bytes
from tests.app.helpers import run_async


def call(middleware, path: str, length: int) -> tuple[int, str, bool]:
    """One POST through the middleware: (status, detail, whether the app behind it ran)."""
    ran, sent = [], []

    async def app(scope, receive, send):
        ran.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        raise AssertionError("the body of a refused upload is never read")

    async def send(message):
        sent.append(message)

    middleware.app = app
    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"content-length", str(length).encode())]}
    run_async(middleware(scope, receive, send))
    body = next((m["body"] for m in sent if m["type"] == "http.response.body"), b"{}")
    return sent[0]["status"], json.loads(body).get("detail", ""), bool(ran)


def test_uploads_stop_when_the_folder_is_full_and_resume_when_it_empties(tmp_path):
    folder = tmp_path / "gradio"
    (folder / "a1").mkdir(parents=True)
    (folder / "a1" / "old.png").write_bytes(b"x" * 600)
    space = UploadSpace(None, folder, max_bytes=1000, rescan_s=0)  # rescan on every request
    assert folder_bytes(folder) == 600
    assert call(space, "/gradio_api/upload", 300)[0] == 200
    status, detail, ran = call(space, "/gradio_api/upload", 500)
    assert (status, ran) == (507, False) and detail == "the server's upload space (1000 bytes) is full; try again later"
    assert call(space, "/gradio_api/queue/join", 500)[0] == 200  # other calls are not its business
    (folder / "a1" / "old.png").unlink()  # Gradio's delete_cache took the old files
    assert call(space, "/gradio_api/upload", 500)[0] == 200


def test_between_scans_accepted_uploads_are_counted(tmp_path):
    space = UploadSpace(None, tmp_path, max_bytes=1000, rescan_s=3600)
    assert [call(space, "/gradio_api/upload", 400)[0] for _ in range(3)] == [200, 200, 507]
