"""Account deletions: what stays of an account an operator deleted (DELETE /archived-clients/{mobile}).

The account's row, sessions and events go; one ``account_deletions`` row keeps who deleted it, when, and which
sessions went away (session_ids only), with those terminated at Telegram first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tgsessions.adapters.sql.types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_deletions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("session_ids", sa.Text(), nullable=False),
        sa.Column("revoked", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_deletions"),
    )
    op.create_index("ix_account_deletions_phone", "account_deletions", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_account_deletions_phone", table_name="account_deletions")
    op.drop_table("account_deletions")
