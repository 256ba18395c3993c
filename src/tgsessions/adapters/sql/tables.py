"""The schema, as SQLAlchemy Core tables. Secrets live only in ``*_ct`` columns (ciphertext, see mapping.py)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from tgsessions.adapters.sql.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# An autoincrementing 64-bit key on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY (itself 64-bit).
BigId = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False, unique=True),
    Column("two_fa_ct", LargeBinary, nullable=True),
    Column("proxy_ct", LargeBinary, nullable=True),  # the whole Proxy as JSON, encrypted (it may hold a password)
    Column("identity", Text, nullable=False),  # ClientIdentity as JSON
    Column("state", String(16), nullable=False),
    Column("frozen", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_updated", UtcDateTime, nullable=True),
    Column("last_cleanup", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=True),  # migration 0004
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(64), nullable=False, unique=True),  # the keyed fingerprint of the string
    Column("role", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("string_ct", LargeBinary, nullable=True),  # NULL once retired
    Column("identity", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("role_since", UtcDateTime, nullable=False),
    Column("verdict", String(16), nullable=True),
    Column("verdict_reason", String(64), nullable=True),
    Column("verdict_at", UtcDateTime, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("open_until", UtcDateTime, nullable=True),
    Column("auth_hash", BigInteger, nullable=True),
    Column("source_format", String(16), nullable=True),  # migration 0004; NULL: stored verbatim by 0.1
    Index(None, "account_id", "role"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("reason", String(128), nullable=True),
    Column("detail", Text, nullable=False),  # JSON object
    Index(None, "account_id", "id"),
    Index(None, "account_id", "action", "at"),
)

account_deletions = Table(
    "account_deletions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Integer, nullable=False),  # the id the account had (its row is gone)
    Column("phone", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("session_ids", Text, nullable=False),  # JSON array of the session_ids that went away
    Column("revoked", Text, nullable=False),  # JSON array: those terminated at Telegram first
    Index(None, "phone"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False, unique=True),  # public: it prefixes the key
    Column("name", String(64), nullable=False, unique=True),
    Column("scopes", Text, nullable=False),  # scope values, sorted, comma-separated
    Column("key_hash", String(128), nullable=False, unique=True),  # a keyed hash; the key itself is never stored
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("rate_limit_per_minute", Integer, nullable=True),
)

maintenance_runs = Table(
    "maintenance_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("report", Text, nullable=False),  # JSON object
    Column("error", Text, nullable=True),
    Column("last_account_id", Integer, nullable=True),  # resume cursor (migration 0003)
    Column("holder", String(64), nullable=True),  # the instance that ran it (migration 0003)
    Index(None, "started_at"),
)

# Facts about the database itself, one row per name: ``telegram_backend`` is the backend that wrote it (migration 0006).
meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Children first: the order to truncate or drop.
ALL_TABLES = (account_deletions, maintenance_runs, api_keys, leases, events, sessions, accounts, meta)
