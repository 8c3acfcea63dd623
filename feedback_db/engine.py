"""Engines: where the database is, and how to talk to it safely.

One laptop user gets an SQLite file, a hosted demo a PostgreSQL URL. Where that
file lives is the caller's business (the engine passes `aigc.paths.database_url()`):
this package knows no home folder. The differences are confined to this module:

* SQLite: WAL (readers never block the writer), foreign keys on, a busy timeout,
  and transactions begun by us, not by the driver. Python's sqlite3 module only
  opens a transaction before INSERT/UPDATE/DELETE, which leaves DDL and the
  reads before a write outside it; we switch that off and emit BEGIN ourselves,
  BEGIN IMMEDIATE for writes so the write lock is taken up front (waiting on the
  busy timeout) instead of failing half-way when a read turns into a write.
* Durability: by default every commit is on disk when `rate` returns (SQLite
  synchronous=FULL). `durable=False` (tests, benchmarks, throwaway demos) uses
  synchronous=NORMAL / PostgreSQL synchronous_commit=off: still consistent and
  safe against a crash of the app, but the last commits before a power cut may
  be lost; commits get ~30x cheaper on SQLite.
* Both: a write that meets a lock or a serialization failure is retried with
  backoff, then refused with `DatabaseBusy`.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from .errors import DatabaseBusy

T = TypeVar("T")

WRITE_OPTION = "feedback_db_write"


def masked_url(url: str | None) -> str:
    """The URL as it may be printed or logged: any password replaced by ***.

    Falls back to a pattern when SQLAlchemy cannot parse the text (a typo must not leak it either).
    """
    if not url:
        return str(url)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable text: mask by pattern
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", str(url))


def normalize_url(url: str | None) -> str:
    """Fill in the psycopg 3 driver; refuse a missing URL and in-memory SQLite.

    `:memory:` would give every pooled connection its own empty database,
    which is never what a multi-threaded app wants.
    """
    if not url:
        raise ValueError("no database URL given (e.g. sqlite:///path/feedback.sqlite3)")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or "mode=memory" in str(url):
            raise ValueError("in-memory SQLite is not supported; give a file path")
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"only sqlite and postgresql databases are supported, not {parsed.drivername}")
    return parsed.render_as_string(hide_password=False)


def create_store_engine(url: str, busy_timeout_s: float = 5.0, durable: bool = True) -> Engine:
    """An engine set up for the store; SQLite gets its pragmas via listeners."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            pool_size=8,
            max_overflow=24,
            pool_timeout=60,
        )
        _install_sqlite_listeners(engine, busy_timeout_s, durable)
        return engine
    engine = create_engine(parsed, pool_size=8, max_overflow=24, pool_timeout=60, pool_pre_ping=True)
    if not durable:
        _install_postgres_listeners(engine)
    return engine


def writer(engine: Engine) -> Engine:
    """A view of the engine whose transactions are writes (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def _install_postgres_listeners(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
        dbapi_connection.commit()


def _install_sqlite_listeners(engine: Engine, busy_timeout_s: float, durable: bool) -> None:
    busy_ms = max(0, int(busy_timeout_s * 1000))
    synchronous = "FULL" if durable else "NORMAL"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _set_wal(cursor, busy_timeout_s)
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _set_wal(cursor: Any, budget_s: float) -> None:
    """Switch to WAL once; it persists in the file. The switch needs a moment of
    exclusive access, so several processes opening a new file may collide."""
    deadline = time.monotonic() + max(budget_s, 1.0)
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # sqlite3.OperationalError: database is locked
            if not _message_is_busy(str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.05)


def _message_is_busy(message: str) -> bool:
    message = message.lower()
    return "database is locked" in message or "database is busy" in message or "database table is locked" in message


# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


def is_retryable(exc: BaseException) -> bool:
    """A lock or serialization failure: the same transaction may succeed later."""
    if not isinstance(exc, DBAPIError):
        return False
    if isinstance(exc, OperationalError) and _message_is_busy(str(exc.orig)):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _RETRY_SQLSTATES


def with_retry(work: Callable[[], T], budget_s: float, what: str) -> T:
    """Run `work` (one whole transaction) until it commits or the budget is spent.

    The transaction is rolled back before each retry, so a retry never leaves
    a half-written request; after the budget the caller gets `DatabaseBusy`.
    """
    deadline = time.monotonic() + budget_s
    delay = 0.005
    attempts = 0
    while True:
        attempts += 1
        try:
            return work()
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise DatabaseBusy(
                    f"{what}: the database stayed locked for {budget_s:.1f}s "
                    f"({attempts} attempts); nothing was written, try again"
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
