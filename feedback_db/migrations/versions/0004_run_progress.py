"""How far a fine-tuning run has got, for runs trained by a worker on another machine.

finetune_runs.stage / progress: written by `aigc worker` as its run reports progress, read by the
server's /finetune_status (the in-process line reads its run's output directly). NULL for runs
that never reported (older rows, runs of the in-process line).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("finetune_runs", sa.Column("stage", sa.String(length=32), nullable=True))
    op.add_column("finetune_runs", sa.Column("progress", sa.Float(), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): batch mode would copy a table that others reference
    op.drop_column("finetune_runs", "progress")
    op.drop_column("finetune_runs", "stage")
