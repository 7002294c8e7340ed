"""Provider keys: ``aad_version``, the version of the associated data their ciphertext is bound to.

Existing rows are version 1 (bound to workspace and key id only). The schema change needs no key;
re-sealing them under version 2 (bound to provider and base URL too) needs the master key, which
migrations never see, so ``keyroute migrate`` (and ``keyroute init``) re-seal them right after the
schema upgrade, through the vault. Until then the gateway refuses to use a version 1 row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_keys") as batch:
        batch.add_column(sa.Column("aad_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("provider_keys") as batch:
        batch.drop_column("aad_version")
