"""Maintenance runs: the resume cursor and the instance that ran them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_runs") as batch:
        batch.add_column(sa.Column("last_account_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("holder", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("maintenance_runs") as batch:
        batch.drop_column("holder")
        batch.drop_column("last_account_id")
