"""Quotas, rate limits and budgets: ``workspace_plans``, ``rate_limits``, ``budgets``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
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
        "workspace_plans",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("monthly_requests", sa.BigInteger(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("workspace_plans"),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_plans")),
    )
    op.create_table(
        "rate_limits",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("api_key_id", sa.String(), nullable=False),
        sa.Column("requests_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("tokens_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("rate_limits"),
        sa.PrimaryKeyConstraint("workspace_id", "api_key_id", name=op.f("pk_rate_limits")),
    )
    op.create_table(
        "budgets",
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("daily_pico", sa.BigInteger(), nullable=True),
        sa.Column("monthly_pico", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("downgrade_to", sa.String(), nullable=True),
        sa.Column("thresholds", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("budgets"),
        sa.PrimaryKeyConstraint("workspace_id", "scope", "subject", name=op.f("pk_budgets")),
    )


def downgrade() -> None:
    op.drop_table("budgets")
    op.drop_table("rate_limits")
    op.drop_table("workspace_plans")
