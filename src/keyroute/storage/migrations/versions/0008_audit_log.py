"""``audit_log``: the per-workspace, hash-chained audit log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("log", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("api_key_id", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("served_model", sa.String(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("end_user", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("log", "seq", name=op.f("uq_audit_log_log_seq")),
    )
    op.create_index("ix_audit_log_log_time", "audit_log", ["log", "time"])
    op.create_index("ix_audit_log_log_api_key_id_time", "audit_log", ["log", "api_key_id", "time"])
    op.create_index("ix_audit_log_log_model_time", "audit_log", ["log", "model", "time"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_log_model_time", table_name="audit_log")
    op.drop_index("ix_audit_log_log_api_key_id_time", table_name="audit_log")
    op.drop_index("ix_audit_log_log_time", table_name="audit_log")
    op.drop_table("audit_log")
