"""When a version's shipped weights were replaced.

* model_versions.retired_at: set when a shipped checkpoint (e.g. aigc/pretrained/fashion-gan.safetensors)
  is replaced by a retrained file of the same name. The old row keeps its id, so its samples, ratings,
  comparisons, runs and children keep pointing at it; its name becomes `fashion-gan@<first 8 of its
  sha256>` and a new row takes the name. NULL for every existing row: upgrading changes nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): batch mode would copy a table that others reference
    op.drop_column("model_versions", "retired_at")
