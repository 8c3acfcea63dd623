"""Helpers for tests and benchmarks: throwaway PostgreSQL databases.

Each test gets its own database so runs never see each other's rows and can
run side by side against one server. Creating one from a migrated template is
a file copy on the server (tens of milliseconds), cheaper than migrating anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from .engine import masked_url


def _admin_engine(base_url: str) -> Engine:
    return create_engine(make_url(base_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def database_url(base_url: str, name: str) -> str:
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def create_database(base_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` on the server of `base_url`; return its URL."""
    engine = _admin_engine(base_url)
    try:
        with engine.connect() as conn:
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    finally:
        engine.dispose()
    return database_url(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    engine = _admin_engine(base_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@contextmanager
def temporary_postgres_database(base_url: str, template: str | None = None, prefix: str = "aigc_t") -> Iterator[str]:
    """A fresh database on the server of `base_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    url = create_database(base_url, name, template)
    try:
        yield url
    finally:
        drop_database(base_url, name)


def check_server(base_url: str) -> None:
    """Raise (with the driver's message) if the server cannot be reached."""
    engine = _admin_engine(base_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


PG_ENV = "AIGC_TEST_PG_URL"


def require_server_url(what: str = "the PostgreSQL tests") -> str:
    """The test server's URL from $AIGC_TEST_PG_URL, for pytest fixtures.

    No URL: skip on a developer's machine, but fail under CI (CI=true), where these tests must run.
    A URL whose server is unreachable always fails: that is a broken setup, not a missing one.
    """
    import os

    import pytest

    url = os.environ.get(PG_ENV)
    if not url:
        message = (
            f"{PG_ENV} is not set, so {what} cannot run. "
            'Start a throwaway server with: eval "$(bash .ci/start_postgres.sh)"'
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    try:
        check_server(url)
    except Exception as exc:  # noqa: BLE001 - any reason it is unreachable
        pytest.fail(f"{PG_ENV}={masked_url(url)} is set but the server is unreachable: {exc}", pytrace=False)
    return url
