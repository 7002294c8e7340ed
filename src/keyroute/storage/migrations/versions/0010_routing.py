"""``routing_policies`` and ``routing_feedback``; usage rows found by request id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "routing_policies",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("max_strong_share", sa.Float(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("routing_policies"),
        sa.PrimaryKeyConstraint("workspace_id", "name", name=op.f("pk_routing_policies")),
    )
    op.create_table(
        "routing_feedback",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("thumbs", sa.String(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("policy", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("request_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("routing_feedback"),
        sa.PrimaryKeyConstraint("workspace_id", "request_id", name=op.f("pk_routing_feedback")),
    )
    op.create_index(
        "ix_routing_feedback_workspace_id_request_time",
        "routing_feedback",
        ["workspace_id", "request_time"],
    )
    op.create_index("ix_usage_workspace_id_request_id", "usage", ["workspace_id", "request_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_workspace_id_request_id", table_name="usage")
    op.drop_index("ix_routing_feedback_workspace_id_request_time", table_name="routing_feedback")
    op.drop_table("routing_feedback")
    op.drop_table("routing_policies")
