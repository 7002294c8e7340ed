"""``workspace_changes``: per-workspace change sequence numbers for the caches of every process.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_changes",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_changes")),
    )
    op.create_index("ix_workspace_changes_revision", "workspace_changes", ["revision"])


def downgrade() -> None:
    op.drop_index("ix_workspace_changes_revision", table_name="workspace_changes")
    op.drop_table("workspace_changes")
