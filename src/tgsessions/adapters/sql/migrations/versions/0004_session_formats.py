"""Session formats: the layout each session arrived in, and the account's Telegram user id.

``sessions.source_format`` is NULL for rows written by tgsessions 0.1, whose strings were stored verbatim in
whatever layout they came (the replaced service's data is GramJS). ``tgsessions repair-sessions`` re-reads those,
stores them in the canonical form and fills the column; until then the service reads them in any layout.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("source_format", sa.String(16), nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("user_id")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("source_format")
