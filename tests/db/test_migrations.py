"""Migrations: old databases upgrade with every row intact, and the migrated
schema agrees with the ORM metadata (what `alembic check` verifies in CI)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import MetaData, insert, text

from feedback_db import FeedbackStore, SchemaError
from feedback_db.engine import create_store_engine
from feedback_db.migrate import check, current_revision, head_revision, schema_differences, upgrade
from feedback_db.validate import latent_to_bytes

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
Z = np.arange(12, dtype=np.float32).reshape(3, 4) / 7


def _fill_first_revision(url: str) -> None:
    """Rows as the code of revision 0001 would have written them."""
    engine = create_store_engine(url)
    try:
        assert upgrade(engine, "0001") == "0001"
        meta = MetaData()
        meta.reflect(engine)
        assert "comparisons" not in meta.tables
        t = meta.tables
        with engine.begin() as conn:
            conn.execute(
                insert(t["model_versions"]),
                [
                    dict(
                        id=1,
                        name="gan-base",
                        kind="gan",
                        parent_id=None,
                        checkpoint_path="/a",
                        checkpoint_sha256="a" * 64,
                        dataset="fmnist",
                        latent_dim=4,
                        created_at=T0,
                        metrics={"fid": 20.5},
                        config={"latent_dim": 4},
                    ),
                    dict(
                        id=2,
                        name="gan-ft1",
                        kind="gan",
                        parent_id=1,
                        checkpoint_path="/b",
                        checkpoint_sha256="b" * 64,
                        dataset="fmnist",
                        latent_dim=4,
                        created_at=T0,
                        metrics={},
                        config={},
                    ),
                ],
            )
            conn.execute(
                insert(t["samples"]),
                [
                    dict(
                        id=10 + i,
                        version_id=1 + (i == 2),
                        seed=99,
                        batch_index=i,
                        latent=latent_to_bytes(Z[i]),
                        latent_dim=4,
                        source="sample",
                        session_id="u1",
                        image_sha256=None,
                        created_at=T0,
                    )
                    for i in range(3)
                ],
            )
            conn.execute(
                insert(t["ratings"]),
                [
                    dict(id=100, sample_id=10, rater_id="u1", score=1.0, created_at=T0, updated_at=T0),
                    dict(id=101, sample_id=11, rater_id="u1", score=-0.5, created_at=T0, updated_at=T0),
                    dict(id=102, sample_id=12, rater_id="u2", score=0.5, created_at=T0, updated_at=T0),
                ],
            )
            conn.execute(
                insert(t["finetune_runs"]),
                [
                    dict(
                        id=1000,
                        parent_version_id=1,
                        child_version_id=2,
                        status="succeeded",
                        n_ratings=2,
                        config={"lr": 0.001},
                        metrics={"liked": 0.7},
                        started_at=T0,
                        finished_at=T0,
                        error=None,
                    ),
                    # Two 'running' runs of one parent: legal at 0001, not at 0002.
                    dict(
                        id=1001,
                        parent_version_id=1,
                        child_version_id=None,
                        status="running",
                        n_ratings=3,
                        config={},
                        metrics={},
                        started_at=T0,
                        finished_at=None,
                        error=None,
                    ),
                    dict(
                        id=1002,
                        parent_version_id=1,
                        child_version_id=None,
                        status="running",
                        n_ratings=3,
                        config={},
                        metrics={},
                        started_at=T0,
                        finished_at=None,
                        error=None,
                    ),
                ],
            )
            if conn.dialect.name == "postgresql":  # explicit ids skip the sequences; catch them up
                for table in t:
                    if table != "alembic_version":
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                            )
                        )
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_from_first_revision_keeps_every_row(empty_db_url):
    _fill_first_revision(empty_db_url)
    with FeedbackStore(empty_db_url) as store:  # opening upgrades to head
        assert store.schema_revision() == head_revision() == "0005"
        base, child = store.lineage(2)[1], store.lineage(2)[0]
        assert (base.owner, base.published, child.owner, child.published) == (None, True, None, True)  # 0003
        assert (base.retired_at, child.retired_at) == (None, None)  # 0005: every old version is current
        assert (base.name, base.metrics, base.config, base.dataset) == (
            "gan-base",
            {"fid": 20.5},
            {"latent_dim": 4},
            "fmnist",
        )
        assert base.created_at == T0 and child.parent_id == 1
        rated = store.ratings_for_lineage(2)
        assert [(r.sample_id, r.rater_id, r.score, r.rated_at) for r in rated] == [
            (10, "u1", 1.0, T0),
            (11, "u1", -0.5, T0),
            (12, "u2", 0.5, T0),
        ]
        for r, z in zip(rated, Z):
            np.testing.assert_array_equal(r.latent, z)
        assert [s.id for s in store.get_samples([10, 11, 12])] == [10, 11, 12]
        runs = {r.id: r for r in store.list_runs()}
        assert runs[1000].status == "succeeded" and runs[1000].metrics == {"liked": 0.7}
        assert runs[1000].pid is None  # new column, empty for old rows
        assert (runs[1000].stage, runs[1000].progress) == (None, None)  # 0004, likewise
        assert (runs[1001].status, runs[1002].status) == ("failed", "running")
        assert "superseded" in runs[1001].error
        # New rows continue after the old ids, and the new table works.
        new_ids = store.record_samples(1, Z[:2], seed=1)
        assert min(new_ids) > 12
        store.record_comparison(10, 12, 12, "u3")
        assert store.comparison_stats(1, 2).wins == 1
        # 0005: an old version can be retired (its shipped file replaced) and keeps its rows and children
        retired = store.retire_version("gan-base", "a" * 64)
        assert (retired.id, retired.name, retired.retired) == (1, "gan-base@aaaaaaaa", True)
        assert store.lineage(2)[1].name == "gan-base@aaaaaaaa" and len(store.ratings_for_lineage(2)) == 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migrated_schema_matches_the_orm(empty_db_url):
    engine = create_store_engine(empty_db_url)
    try:
        upgrade(engine)
        assert schema_differences(engine) == []
        check(engine)  # alembic's own `check` command: raises on any difference
        assert current_revision(engine) == head_revision()
        assert upgrade(engine) == head_revision()  # idempotent
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    _fill_first_revision(url)
    engine = create_store_engine(url)
    try:
        upgrade(engine)
        from alembic import command

        from feedback_db.migrate import alembic_config

        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "0001")
        assert current_revision(engine) == "0001"
        upgrade(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
    with FeedbackStore(url) as store:
        assert len(store.ratings_for_lineage(2)) == 3


def test_database_from_newer_code_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'n.sqlite3'}"
    FeedbackStore(url).close()
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="newer version"):
        FeedbackStore(url)


def test_sqlite_table_rebuild_keeps_dependent_rows(tmp_path):
    """A future migration that rebuilds `samples` (SQLite batch mode: copy, drop,
    rename) must not cascade-delete the ratings that point at it."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Column, Integer

    from feedback_db.migrate import locked_schema_transaction

    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    _fill_first_revision(url)
    FeedbackStore(url).close()
    engine = create_store_engine(url)
    try:
        with locked_schema_transaction(engine) as conn:
            ops = Operations(MigrationContext.configure(conn))
            with ops.batch_alter_table("samples", recreate="always") as batch:
                batch.add_column(Column("extra", Integer, nullable=True))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ratings")).scalar() == 3
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on for the pool
    finally:
        engine.dispose()
