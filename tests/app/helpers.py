"""Helpers shared by the page's tests (importable, unlike conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import json
import socket
import time
from contextlib import contextmanager

import httpx
import numpy as np
from PIL import Image

TIMEOUT = 30_000  # ms: how long a browser test waits for a condition (a busy 2-core machine is slow)
# s: how long an API test's HTTP call may wait. gradio_client's own default for an upload is httpx's 5 s, which a
# cold 2-core machine running the suite on two workers crossed (two upload tests timed out, then passed alone):
# the tests assert what the API answers, not how fast (speed lives in benchmarks/)
HTTP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_client(url: str, **kwargs):
    """A gradio_client Client for `url` whose HTTP calls wait up to HTTP_TIMEOUT; kwargs go to Client."""
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": HTTP_TIMEOUT}, **kwargs)


@contextmanager
def running(studio, tabs=None, settings: dict | None = None, connections=None, **launch):
    """The app on a free port (the page's `tabs`, `launch_kwargs` `settings` such as queue_each), its server's
    connections guarded as `aigc serve` guards them (`connections`: the limits, default the serve defaults);
    closed whatever happens."""
    from aigc_ui import connection_guard
    from aigc_ui import server as app

    demo = app.build_demo(studio, tabs=tabs)
    try:
        kwargs = {**app.launch_kwargs(studio, **(settings or {})), **launch}
        with connection_guard.installed(connections or connection_guard.ConnectionLimits()):
            demo.launch(prevent_thread_lock=True, server_port=free_port(), **kwargs)
        yield demo
    finally:
        demo.close()


@contextmanager
def app_of_its_own(models_dir, tmp_path_factory, tag: str):
    """(studio, demo): an app with its own database and a copy of the tiny models, for tests whose fine-tunes make
    children that must not leak into other tests' model lists."""
    import shutil

    from aigc.service.studio import Studio

    folder = tmp_path_factory.mktemp(f"{tag}-models")
    for path in models_dir.glob("tiny-*.safetensors"):
        shutil.copy(path, folder / path.name)
    db = f"sqlite:///{tmp_path_factory.mktemp(f'{tag}-db') / 'feedback.sqlite'}"
    with Studio.open(db, models_dir=folder, threads=1) as studio, running(studio) as demo:
        yield studio, demo


# ---------------------------------------------------------------- browser tests


def rating_of(store, sample_id: int) -> list[float]:
    return [
        r.score for r in store.ratings_for_lineage(store.get_sample(sample_id).version_id) if r.sample_id == sample_id
    ]


def wait_for_text(page, selector: str, pattern: str) -> str:
    page.wait_for_function(
        "([sel, pat]) => new RegExp(pat).test(document.querySelector(sel)?.innerText || '')",
        arg=[selector, pattern],
        timeout=TIMEOUT,
    )
    return page.locator(selector).inner_text()


def img_src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def fetch_pixels(page, src: str) -> np.ndarray:
    """The picture an <img> shows (inline data: URIs, or files served by Gradio)."""
    body = base64.b64decode(src.split(",", 1)[1]) if src.startswith("data:") else page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("L"))


def eventually(check, timeout_s: float = 10.0) -> bool:
    """Poll a database condition that follows a click (the server stores it after the browser sent it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def run_async(coro):
    """Run a coroutine (an ASGI call) to completion on a thread of its own.

    A browser test earlier in the same process leaves Playwright's event loop running on the main thread, where
    `asyncio.run` refuses to start; the full run (browser tests and these in one worker) failed that way.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def drag_first_slider_until_the_picture_changes(page) -> str:
    """Move the explorer's first slider with the keyboard and wait for a new picture; returns the old src."""
    before = img_src(page, "#ex-image")
    slider = page.locator("#ex-slider-0 input[type=range]")
    slider.focus()
    for _ in range(25):
        slider.press("ArrowRight")
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel + ' img'); return i && i.src !== old; }",
        arg=["#ex-image", before],
        timeout=TIMEOUT,
    )
    return before


def result_of(url: str, api_name: str, event_id: str) -> tuple[str, object]:
    """('complete' or 'error', its data) of a REST API call."""
    with httpx.stream("GET", f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as reply:
        event = None
        for line in reply.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in ("complete", "error"):
                return event, json.loads(line[len("data: ") :])
    raise AssertionError("the stream ended without a result")


class FakeClock:
    """A clock a test moves by hand (`clock.now += 20`), for the rules that count time (quotas, gestures)."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
