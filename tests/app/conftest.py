"""Fixtures for the page's tests: tiny models trained once, a private AIGC_HOME and SQLite file,
and the app launched on a free port for the whole session (always closed).

Browser tests (`-m browser`) drive Debian's Chromium through Playwright. They are deselected when
no `-m` expression is given; when selected they skip on a machine without Chromium, except under
CI (CI=true), where a missing browser fails with a clear message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app.helpers import api_client, running

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Without a -m expression, leave this folder's browser tests out (the default run stays fast)."""
    if config.option.markexpr or in_ci():
        return
    mine = [i for i in items if i.get_closest_marker("browser") and HERE in Path(str(i.fspath)).parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [i for i in items if i not in mine]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """tiny-gan and tiny-vae, trained once per session by the real CLI (`aigc train --dry-run`), in-process:
    two child processes would each pay for importing torch, which costs more than the 3 training steps."""
    from aigc.cli import main

    out = tmp_path_factory.mktemp("models")
    for kind in ("gan", "vae"):
        name = f"tiny-{kind}"
        argv = ["train", kind, "--dry-run", "--name", name, "--out", str(out / f"run-{name}")]
        code = main([*argv, "--save", str(out / f"{name}.safetensors"), "--quiet"])
        assert code == 0, f"training {name} failed (exit code {code})"
    return out


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """A private AIGC_HOME for the session (the studio looks for user models there)."""
    path = tmp_path_factory.mktemp("aigc-home")
    old = os.environ.get("AIGC_HOME")
    os.environ["AIGC_HOME"] = str(path)
    yield path
    if old is None:
        os.environ.pop("AIGC_HOME", None)
    else:
        os.environ["AIGC_HOME"] = old


@pytest.fixture(scope="session")
def db_url(home) -> str:
    return f"sqlite:///{home / 'feedback.sqlite3'}"


@pytest.fixture(scope="session")
def studio(models_dir, db_url):
    from aigc.service.studio import Studio

    with Studio.open(db_url, models_dir=models_dir, threads=1) as s:
        yield s


@pytest.fixture(scope="session")
def server(studio):
    """The URL of the app, shared by the session's tests."""
    with running(studio) as demo:
        yield demo.local_url


@pytest.fixture(scope="session")
def client(server):
    return api_client(server, download_files=True)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium via Playwright: skip without it, but FAIL under CI (CI=true)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright is not installed (pip install -e '.[test]')"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (browser tests never download one)"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()
