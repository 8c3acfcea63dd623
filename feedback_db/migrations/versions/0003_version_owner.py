"""Who a model version belongs to, and whether everyone may see it.

* model_versions.owner: the person whose fine-tuning run made it (NULL: shipped or registered
  by an operator).
* model_versions.published: visible to every visitor. Existing versions stay published (the
  server default), so upgrading changes nothing anyone sees; a deployment with roles makes a
  visitor's new fine-tune unpublished until an admin publishes it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("owner", sa.String(length=128), nullable=True))
    op.add_column("model_versions", sa.Column("published", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35 has it): batch mode would copy and drop model_versions,
    # which samples and runs reference, and SQLite refuses that with foreign keys on.
    op.drop_column("model_versions", "published")
    op.drop_column("model_versions", "owner")
