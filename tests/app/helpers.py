"""Helpers shared by the page's tests (importable, unlike conftest.py)."""

from __future__ import annotations

import socket
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(studio, **launch):
    """The app on a free port; closed whatever happens."""
    from aigc_ui import server as app

    demo = app.build_demo(studio)
    try:
        demo.launch(
            prevent_thread_lock=True, quiet=True, server_port=free_port(), **{**app.launch_kwargs(studio), **launch}
        )
        yield demo
    finally:
        demo.close()
