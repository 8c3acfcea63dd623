"""Alembic environment for the feedback database.

Used two ways: from code (feedback_db.migrate passes an open connection in
`config.attributes["connection"]`, already inside a locked transaction) and
from the command line (`alembic -c feedback_db/alembic.ini ...`, URL from the
ini or $AIGC_DB_URL). `render_as_batch` lets SQLite alter tables by copying.
"""

from __future__ import annotations

import os

from alembic import context

from feedback_db.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=os.environ.get("AIGC_DB_URL") or config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from feedback_db.engine import create_store_engine, normalize_url
    from feedback_db.migrate import locked_schema_transaction

    url = os.environ.get("AIGC_DB_URL") or config.get_main_option("sqlalchemy.url") or None
    engine = create_store_engine(normalize_url(url))
    try:
        # Same lock and SQLite foreign-key handling as the store's own upgrades.
        with locked_schema_transaction(engine) as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
