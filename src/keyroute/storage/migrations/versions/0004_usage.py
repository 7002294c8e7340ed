"""The usage table: one row per request record, costs in integer pico-dollars.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _pico(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "usage",
        _text("id", nullable=False),
        _text("request_id", nullable=False),
        _text("workspace_id", nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        _text("api_key_id"),
        _text("end_user"),
        _text("endpoint", nullable=False),
        _text("operation"),
        _text("inbound_format", nullable=False),
        _text("requested_model"),
        _text("served_model"),
        _text("provider"),
        _text("provider_key_id"),
        _text("route_policy"),
        _text("cache_outcome"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        _text("error_code"),
        _text("stream_outcome"),
        _count("input_tokens"),
        _count("cached_input_tokens"),
        _count("cache_write_tokens"),
        _count("cache_write_1h_tokens"),
        _count("output_tokens"),
        _count("reasoning_tokens"),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False),
        _pico("paid_pico"),
        _pico("list_pico"),
        _pico("uncached_pico"),
        _pico("reference_pico"),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("upstream_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_usage_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    op.create_index("ix_usage_workspace_id_time", "usage", ["workspace_id", "time"])
    op.create_index(
        "ix_usage_workspace_id_api_key_id_time", "usage", ["workspace_id", "api_key_id", "time"]
    )
    op.create_index(
        "ix_usage_workspace_id_served_model_time",
        "usage",
        ["workspace_id", "served_model", "time"],
    )


def downgrade() -> None:
    op.drop_table("usage")
