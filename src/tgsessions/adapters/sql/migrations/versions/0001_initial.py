"""Initial schema: accounts, sessions, events, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tgsessions.adapters.sql.types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("two_fa_ct", sa.LargeBinary(), nullable=True),
        sa.Column("proxy_ct", sa.LargeBinary(), nullable=True),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_updated", UtcDateTime(), nullable=True),
        sa.Column("last_cleanup", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("phone", name="uq_accounts_phone"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("string_ct", sa.LargeBinary(), nullable=True),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("role_since", UtcDateTime(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("verdict_reason", sa.String(64), nullable=True),
        sa.Column("verdict_at", UtcDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("open_until", UtcDateTime(), nullable=True),
        sa.Column("auth_hash", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("session_id", name="uq_sessions_session_id"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_sessions_account_id_accounts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_account_id_role", "sessions", ["account_id", "role"])
    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_events_account_id_accounts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_events_account_id_id", "events", ["account_id", "id"])
    op.create_index("ix_events_account_id_action_at", "events", ["account_id", "action", "at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_events_account_id_action_at", table_name="events")
    op.drop_index("ix_events_account_id_id", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_sessions_account_id_role", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("accounts")
