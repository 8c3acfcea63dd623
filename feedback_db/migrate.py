"""Alembic, driven from code: the store upgrades on open, `aigc db upgrade` by hand.

The migration scripts ship inside the package (feedback_db/migrations), so an
installed wheel can upgrade a user's database without a checkout or an ini file.
Upgrades take a lock first (the write lock on SQLite, an advisory lock on
PostgreSQL) so several processes opening one new database migrate it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text

from .engine import with_retry, writer
from .errors import SchemaError
from .schema import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x61696763  # "aigc": serialises concurrent upgrades on PostgreSQL


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the shipped scripts (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"migrations have {len(heads)} heads, expected one: {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", budget_s: float = 30.0) -> str | None:
    """Bring the database to `revision` in one locked transaction; return the new revision.

    Cheap when already there: one read of alembic_version and no lock.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()

    def work() -> str | None:
        with locked_schema_transaction(engine) as conn:
            try:
                command.upgrade(alembic_config(connection=conn), revision)
            except CommandError as exc:
                raise SchemaError(
                    f"cannot upgrade the feedback database to {revision!r}: {exc}. "
                    "Was it written by a newer version of aigc?"
                ) from exc
            return MigrationContext.configure(conn).get_current_revision()

    return with_retry(work, budget_s, "database upgrade")


@contextmanager
def locked_schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for schema changes, holding the migration lock.

    SQLite alters a table by copying it and dropping the old one; with foreign
    keys on, that DROP would cascade-delete every rating of the samples table.
    So, as SQLite's docs prescribe, foreign keys are switched off around the
    transaction (the pragma is ignored inside one) and checked before commit.
    """
    with writer(engine).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None  # None only once a connection is invalidated; this one was just opened
            dbapi.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError(f"migration left {len(broken)} broken foreign keys, e.g. {broken[0]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")


def schema_differences(engine: Engine) -> list[Any]:
    """What `alembic check` would report: ORM metadata vs the live database."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return list(compare_metadata(ctx, Base.metadata))


def describe_difference(diff: Any) -> str:
    """One of alembic's comparison entries in words: which table, column or index differs, and which side has it.

    Alembic gives tuples holding SQLAlchemy objects (`('remove_column', None, 'ratings', Column('foo', …))`);
    `aigc db check` printed those raw. A type or nullability change comes as a list of such tuples."""
    if isinstance(diff, list):
        return "; ".join(describe_difference(d) for d in diff)
    op = diff[0]
    if op in ("add_table", "remove_table"):
        where = "in the code, missing from the database" if op == "add_table" else "in the database, not in the code"
        return f"table {diff[1].name}: {where}"
    if op in ("add_column", "remove_column"):
        where = "in the code, missing from the database" if op == "add_column" else "in the database, not in the code"
        return f"column {diff[2]}.{diff[3].name}: {where}"
    if op in ("add_index", "remove_index"):
        where = "in the code, missing from the database" if op == "add_index" else "in the database, not in the code"
        return f"index {diff[1].name} on {diff[1].table.name}: {where}"
    if op in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        _, _, table, column, _, old, new = diff
        what = op.removeprefix("modify_")
        return f"column {table}.{column}: {what} {old} in the database, {new} in the code"
    return " ".join(str(part) for part in diff)


def check(engine: Engine) -> None:
    """Raise alembic's error when the database and the ORM metadata disagree."""
    with engine.connect() as conn:
        command.check(alembic_config(connection=conn))
