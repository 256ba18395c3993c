"""Facts about the database itself: the ``meta`` table (name, value, updated_at).

Its first fact is ``telegram_backend``: the Telegram backend (``simulated`` or ``telethon``) that wrote the
database, so that one never starts over a database the other wrote (see bootstrap.check_backend_record). A
database migrated from 0005 has no row yet: the next start records its backend.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tgsessions.adapters.sql.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_meta"),
    )


def downgrade() -> None:
    op.drop_table("meta")
