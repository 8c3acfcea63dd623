"""Fixtures for the feedback database tests: every store test runs on SQLite
(a temp file, never :memory:) and on a real PostgreSQL server.

PostgreSQL comes from $AIGC_TEST_PG_URL (`eval "$(bash .ci/start_postgres.sh)"`).
Without it the postgres cases skip on a developer's machine but FAIL in CI
(CI=true): a CI run that silently tested only SQLite would prove nothing.

Each test gets a fresh database: SQLite copies a migrated template file,
PostgreSQL creates a database from a migrated template database.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # pytest's importlib mode does not add it
    sys.path.insert(0, str(ROOT))

from feedback_db import FeedbackStore, VersionInfo  # noqa: E402
from feedback_db.engine import create_store_engine  # noqa: E402
from feedback_db.migrate import upgrade  # noqa: E402
from feedback_db.testing import (  # noqa: E402
    create_database,
    drop_database,
    require_server_url,
    temporary_postgres_database,
)
from tests.db.helpers import LATENT_DIM  # noqa: E402

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The server's URL; skip (developer) or fail (CI) when there is none."""
    return require_server_url("the PostgreSQL tests")


@pytest.fixture(scope="session")
def pg_template(pg_base_url: str) -> Iterator[str]:
    """A migrated database that fresh test databases are copied from."""
    name = f"aigc_tmpl_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_base_url, name)
    engine = create_store_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield name
    drop_database(pg_base_url, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "feedback.sqlite3"
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database of the parametrized backend."""
    if backend == "sqlite":
        path = tmp_path / "feedback.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    base = request.getfixturevalue("pg_base_url")
    with temporary_postgres_database(base, template=request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with temporary_postgres_database(request.getfixturevalue("pg_base_url")) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[FeedbackStore]:
    """The store under test. durable=False skips the per-commit fsync (SQLite
    synchronous=NORMAL): locking and transactions are unchanged, the suite is
    ~5x faster on a shared disk. test_engine.py checks the durable defaults."""
    with FeedbackStore(db_url, durable=False) as s:
        yield s


@pytest.fixture
def version(store: FeedbackStore) -> VersionInfo:
    return store.register_version("gan-base", "gan", "/ckpt/gan-base", "a" * 64, latent_dim=LATENT_DIM)
