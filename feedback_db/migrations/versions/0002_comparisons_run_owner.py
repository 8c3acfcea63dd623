"""Blind A/B comparisons, fine-tune run ownership, indexes for per-person views.

* comparisons: parent-vs-child picks.
* finetune_runs.pid/host: who runs it, so a restarted process can fail runs
  orphaned by a crash; plus a partial unique index allowing one running run
  per parent (older duplicates, possible before this revision, are failed first).
* indexes for "my recent samples" and "my ratings".

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("left_sample_id", sa.Integer(), nullable=False),
        sa.Column("right_sample_id", sa.Integer(), nullable=False),
        sa.Column("picked_sample_id", sa.Integer(), nullable=True),
        sa.Column("rater_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("left_sample_id <> right_sample_id", name=op.f("ck_comparisons_distinct_sides")),
        sa.CheckConstraint(
            "picked_sample_id IS NULL OR picked_sample_id = left_sample_id OR picked_sample_id = right_sample_id",
            name=op.f("ck_comparisons_picked_is_shown"),
        ),
        sa.ForeignKeyConstraint(["left_sample_id"], ["samples.id"], name=op.f("fk_comparisons_left_sample_id_samples")),
        sa.ForeignKeyConstraint(
            ["picked_sample_id"], ["samples.id"], name=op.f("fk_comparisons_picked_sample_id_samples")
        ),
        sa.ForeignKeyConstraint(
            ["right_sample_id"], ["samples.id"], name=op.f("fk_comparisons_right_sample_id_samples")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    op.create_index(op.f("ix_comparisons_left_sample_id"), "comparisons", ["left_sample_id"])
    op.create_index(op.f("ix_comparisons_right_sample_id"), "comparisons", ["right_sample_id"])

    with op.batch_alter_table("finetune_runs") as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))

    # Keep only the newest running run per parent before the unique index exists.
    op.execute(
        "UPDATE finetune_runs SET status = 'failed', "
        "error = 'superseded by a newer running run (migration 0002)' "
        "WHERE status = 'running' AND id NOT IN ("
        "SELECT max(id) FROM finetune_runs WHERE status = 'running' GROUP BY parent_version_id)"
    )
    op.create_index(
        "uq_finetune_runs_one_running_per_parent",
        "finetune_runs",
        ["parent_version_id"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )
    op.create_index("ix_ratings_rater_id_updated_at", "ratings", ["rater_id", "updated_at"])
    op.create_index("ix_samples_session_id_created_at", "samples", ["session_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_samples_session_id_created_at", table_name="samples")
    op.drop_index("ix_ratings_rater_id_updated_at", table_name="ratings")
    op.drop_index("uq_finetune_runs_one_running_per_parent", table_name="finetune_runs")
    with op.batch_alter_table("finetune_runs") as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("pid")
    op.drop_index(op.f("ix_comparisons_right_sample_id"), table_name="comparisons")
    op.drop_index(op.f("ix_comparisons_left_sample_id"), table_name="comparisons")
    op.drop_table("comparisons")
