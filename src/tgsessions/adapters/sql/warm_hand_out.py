"""The warm hand-out (domain/warm_hand_out.py) in ONE driver round trip per batch, below SQLAlchemy.

A warm fetch is the service's hottest path, and through SQLAlchemy on aiosqlite it costs a dozen thread hops
(cursor, execute, fetch, close, BEGIN, COMMIT, the pool's reset). Here the engine only lends its pooled connection
(same pool, same pragmas, same single SQLite writer) and the work goes to the raw driver:

* SQLite: one function runs in aiosqlite's connection thread — BEGIN IMMEDIATE, one SELECT per phone, one
  ``executemany`` of the events, COMMIT (ROLLBACK on any error) — one hop for the whole batch.
* PostgreSQL: one statement in autocommit (its own transaction): the requests go in as arrays, a data-modifying
  CTE inserts the events of the rows that may be handed out, the outer SELECT returns every row and whether it was
  audited — one round trip.

Both apply the rule of :func:`~tgsessions.domain.warm_hand_out.may_hand_out` to the stored columns (the contract
suite tests/storage/test_warm_hand_out_contract.py holds them to it). Rows are decoded and decrypted back in the
event loop by mapping.py, as everywhere else. A driver without the needed entry point falls back to a unit of work.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.asyncio import AsyncEngine

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.errors import translated
from tgsessions.adapters.sql.tables import accounts, sessions
from tgsessions.adapters.sql.types import UtcDateTime
from tgsessions.domain.model import AccountState, Origin, Role
from tgsessions.domain.ports import Cipher
from tgsessions.domain.secret import Secret
from tgsessions.domain.warm_hand_out import BANNED, CACHED, WarmAnswer, WarmPrimary, WarmRequest, WarmRow

_DETAIL = json.dumps(CACHED, sort_keys=True)
_BANNED = tuple(state.value for state in BANNED)
_ACCOUNT = ("id", "phone", "state", "frozen", "created_at", "updated_at", "last_updated", "user_id")
_SESSION = ("id", "account_id", "session_id", "role", "origin", "identity", "string_ct", "open_until")
_NAMES = [f"a_{name}" for name in _ACCOUNT] + [f"s_{name}" for name in _SESSION]
_COLUMNS = [f"{name[0]}.{name[2:]} AS {name}" for name in _NAMES]
_PRIMARY = f"LEFT JOIN sessions s ON s.account_id = a.id AND s.role = '{Role.PRIMARY.value}'"
# Every statement below is built once from the schema's column names and constants: no input reaches the text.
_SQLITE_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM accounts a {_PRIMARY} WHERE a.phone IN "  # noqa: S608
_INSERT = "INSERT INTO events (account_id, action, actor, outcome, at, session_id, reason, detail) "
_SQLITE_INSERT = _INSERT + "VALUES (?, 'handed_out', ?, 'ok', ?, ?, NULL, ?)"
_MAY = (
    "f.a_id IS NOT NULL AND f.a_state NOT IN ({banned}) AND f.s_session_id = f.hint "
    "AND f.s_string_ct IS NOT NULL AND (f.s_open_until IS NULL OR f.s_open_until <= $4)"
).format(banned=", ".join(f"'{state}'" for state in _BANNED))
_PG_STATEMENT = f"""
WITH found AS (
    SELECT DISTINCT ON (r.ord) r.ord, r.hint, r.actor, {", ".join(_COLUMNS)}
    FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(phone, hint, actor, ord)
    LEFT JOIN accounts a ON a.phone = r.phone {_PRIMARY}
    ORDER BY r.ord, s.id
), audited AS (
    {_INSERT}SELECT f.a_id, 'handed_out', f.actor, 'ok', $4, f.hint, NULL, $5 FROM found f WHERE {_MAY}
)
SELECT f.*, ({_MAY}) AS audited FROM found f ORDER BY f.ord
"""  # noqa: S608
# One phone (a lone warm fetch, the common case): no arrays to unnest, no sort; $1 phone, $2 hint, $3 actor.
_PG_ONE = f"""
WITH found AS (
    SELECT $2::text AS hint, $3::text AS actor, {", ".join(_COLUMNS)}
    FROM accounts a {_PRIMARY} WHERE a.phone = $1 ORDER BY s.id LIMIT 1
), audited AS (
    {_INSERT}SELECT f.a_id, 'handed_out', f.actor, 'ok', $4, f.hint, NULL, $5 FROM found f WHERE {_MAY}
)
SELECT f.*, ({_MAY}) AS audited FROM found f
"""  # noqa: S608
_TABLES = {"a": accounts, "s": sessions}
_DATETIMES = [n for n in _NAMES if isinstance(_TABLES[n[0]].c[n[2:]].type, UtcDateTime)]
_BOOLEANS = [n for n in _NAMES if isinstance(_TABLES[n[0]].c[n[2:]].type, Boolean)]


async def hand_out_warm(
    engine: AsyncEngine, cipher: Cipher, requests: Sequence[WarmRequest], now: datetime
) -> list[WarmAnswer] | None:
    """The answers, or None when the driver offers no raw entry point (the caller then uses a unit of work)."""
    async with translated(), engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        try:
            if engine.dialect.name == "sqlite" and hasattr(driver, "_execute"):
                rows = await driver._execute(_sqlite_batch, driver, requests, now)
            elif engine.dialect.name == "postgresql" and hasattr(driver, "fetch"):
                rows = await _postgresql_batch(driver, requests, now)
            else:
                return None
        except BaseException:
            await conn.invalidate()  # the raw connection's state is unknown: the pool opens a fresh one
            raise
    return [_answer(row, cipher) for row in rows]


Found = list[tuple[dict[str, Any] | None, bool]]  # each request's row (by a_/s_ column names) and whether audited


def _sqlite_batch(driver: Any, requests: Sequence[WarmRequest], now: datetime) -> Found:
    """Runs in aiosqlite's thread: the whole transaction, one hop."""
    db: sqlite3.Connection = driver._conn
    stored_at = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UtcDateTime stores it on SQLite
    found: Found = []
    events: list[tuple[Any, ...]] = []
    phones = sorted({r.phone for r in requests})
    db.execute("BEGIN IMMEDIATE")
    try:
        rows: dict[str, dict[str, Any]] = {}
        for values in db.execute(f"{_SQLITE_SELECT}({', '.join('?' * len(phones))}) ORDER BY s.id DESC", phones):
            decoded = _sqlite_row(values)
            rows[decoded["a_phone"]] = decoded  # by session id, descending: the lowest one wins, as on PostgreSQL
        for request in requests:
            row = rows.get(request.phone)
            audited = row is not None and _may(row, request.hint, now)
            if audited:
                assert row is not None
                events.append((row["a_id"], request.actor, stored_at, request.hint, _DETAIL))
            found.append((row, audited))
        if events:
            db.executemany(_SQLITE_INSERT, events)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return found


def _sqlite_row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_NAMES, values, strict=True))
    for name in _DATETIMES:
        if row[name] is not None:
            row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=UTC)
    for name in _BOOLEANS:
        row[name] = bool(row[name])
    return row


def _may(row: dict[str, Any], hint: str, now: datetime) -> bool:
    """:func:`may_hand_out` on the stored columns (SQLite; PostgreSQL's statement says the same in SQL)."""
    open_until = row["s_open_until"]
    return (
        row["a_state"] not in _BANNED
        and row["s_session_id"] == hint
        and row["s_string_ct"] is not None
        and (open_until is None or open_until <= now)
    )


async def _postgresql_batch(driver: Any, requests: Sequence[WarmRequest], now: datetime) -> Found:
    if len(requests) == 1:
        [request] = requests
        record = await driver.fetchrow(_PG_ONE, request.phone, request.hint, request.actor, now, _DETAIL)
        if record is None:
            return [(None, False)]
        return [(dict(record), bool(record["audited"]))]
    records = await driver.fetch(
        _PG_STATEMENT,
        [r.phone for r in requests],
        [r.hint for r in requests],
        [r.actor for r in requests],
        now,
        _DETAIL,
    )
    return [(dict(record) if record["a_id"] is not None else None, bool(record["audited"])) for record in records]


def _answer(found: tuple[dict[str, Any] | None, bool], cipher: Cipher) -> WarmAnswer:
    row, audited = found
    if row is None:
        return WarmAnswer(None, False)
    primary = None
    if row["s_id"] is not None:
        string = None
        if audited:  # decrypted only to be handed out
            session_id, account_id = row["s_session_id"], row["s_account_id"]
            what = f"session {session_id} of account id {account_id}"
            string = Secret(
                mapping.decrypt(cipher, row["s_string_ct"], mapping.session_aad(account_id, session_id), what)
            )
        primary = WarmPrimary(row["s_session_id"], Role(row["s_role"]), Origin(row["s_origin"]),
                              mapping.identity_from_json(row["s_identity"]).api_id, row["s_string_ct"] is not None,
                              row["s_open_until"], string)  # fmt: skip
    account = WarmRow(
        row["a_id"], row["a_phone"], AccountState(row["a_state"]), bool(row["a_frozen"]), row["a_created_at"],
        row["a_updated_at"], row["a_last_updated"], row["a_user_id"], primary,
    )  # fmt: skip
    return WarmAnswer(account, audited)
