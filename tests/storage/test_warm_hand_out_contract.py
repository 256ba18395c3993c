"""The warm hand-out contract (``database.hand_out_warm``), run against memory, SQLite and PostgreSQL.

One transaction per batch: each request's account and primary are read, and a ``handed_out`` event is written
exactly where :func:`may_hand_out` holds; answers come back in request order, duplicates and unknown phones
included; a failed transaction writes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.storage.builders import IDENTITY, add_account, session, session_string
from tgsessions.adapters.sql import warm_hand_out
from tgsessions.domain.model import AccountState, Action, Role
from tgsessions.domain.warm_hand_out import WarmRequest


async def _with_primary(database, cipher, clock, phone, tag, **account_kwargs):
    owner = await add_account(database, phone, clock.now(), **account_kwargs)
    async with database.unit_of_work() as uow:
        primary = await uow.sessions.add_session(session(cipher, owner.id, tag, clock.now(), role=Role.PRIMARY))
        await uow.sessions.add_session(session(cipher, owner.id, f"{tag}b", clock.now(), role=Role.BACKUP))
        await uow.commit()
    return owner, primary


async def _handed_out(database, account_id):
    async with database.unit_of_work() as uow:
        return [e for e in await uow.audit.events(account_id, limit=50) if e.action is Action.HANDED_OUT]


async def test_a_matching_primary_is_read_and_audited_and_only_its_string_revealed(database, cipher, clock):
    owner, primary = await _with_primary(database, cipher, clock, "7001", "p", with_secrets=True)
    [answer] = await database.hand_out_warm([WarmRequest("7001", primary.session_id, "api:k1")], clock.now())
    assert answer.audited
    row = answer.found
    assert row is not None
    assert (row.account_id, row.phone, row.state, row.frozen, row.user_id) == (
        owner.id,
        "7001",
        AccountState.ACTIVE,
        False,
        None,
    )
    assert (row.created_at, row.updated_at, row.last_updated) == (owner.created_at, owner.updated_at, None)
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.primary is not None
    assert (row.primary.session_id, row.primary.role, row.primary.origin, row.primary.api_id) == (
        primary.session_id, Role.PRIMARY, primary.origin, IDENTITY.api_id,
    )  # fmt: skip
    assert row.primary.string is not None and row.primary.string.reveal() == session_string("p")
    assert "2fa-password-7001" not in repr(answer), "the 2FA password is not read"
    [event] = await _handed_out(database, owner.id)
    assert (event.actor, event.outcome, event.session_id, event.detail) == (
        "api:k1", "ok", primary.session_id, {"how": "cached"},
    )  # fmt: skip
    assert event.at == clock.now()


async def test_only_what_may_be_handed_out_is_audited_in_one_batch(database, cipher, clock):
    _ok, ok = await _with_primary(database, cipher, clock, "7010", "ok")
    stale, _p = await _with_primary(database, cipher, clock, "7011", "st")
    banned, banned_primary = await _with_primary(database, cipher, clock, "7012", "bn")
    broken, broken_primary = await _with_primary(database, cipher, clock, "7013", "br")
    async with database.unit_of_work() as uow:
        account, _primary = await uow.accounts.account_and_primary("7012")
        account.state = AccountState.BANNED
        await uow.accounts.save_account(account)
        [stored] = [s for s in await uow.sessions.sessions(broken.id) if s.role is Role.PRIMARY]
        await uow.sessions.save_session(replace(stored, open_until=clock.now() + timedelta(seconds=30)))
        await uow.commit()
    requests = [
        WarmRequest("7010", ok.session_id, "a"),
        WarmRequest("7011", "not-its-primary", "a"),
        WarmRequest("7012", banned_primary.session_id, "a"),
        WarmRequest("7013", broken_primary.session_id, "a"),
        WarmRequest("7099", "whatever", "a"),  # no such phone
        WarmRequest("7010", ok.session_id, "b"),  # the same phone twice: two answers, two rows
    ]
    answers = await database.hand_out_warm(requests, clock.now())
    assert [a.audited for a in answers] == [True, False, False, False, False, True]
    assert answers[4].found is None
    found = [a.found for a in answers[:4]]
    assert all(row is not None and row.primary is not None for row in found)
    assert found[1].account_id == stale.id and found[1].primary.session_id != "not-its-primary"
    assert found[2].state is AccountState.BANNED and found[2].is_banned
    assert found[3].primary.breaker_open(clock.now())
    assert [row.primary.string is not None for row in found] == [True, False, False, False], "revealed if handed out"
    assert sorted(e.actor for e in await _handed_out(database, _ok.id)) == ["a", "b"]
    for account_id in (stale.id, banned.id, broken.id):
        assert await _handed_out(database, account_id) == []
    later = clock.now() + timedelta(seconds=31)  # the breaker's cool-down is over
    [after] = await database.hand_out_warm([WarmRequest("7013", broken_primary.session_id, "a")], later)
    assert after.audited


async def test_an_account_without_a_primary_is_found_but_not_audited(database, clock):
    owner = await add_account(database, "7020", clock.now())
    [answer] = await database.hand_out_warm([WarmRequest("7020", "x", "a")], clock.now())
    assert answer.found is not None and answer.found.account_id == owner.id and answer.found.primary is None
    assert not answer.audited
    [missing] = await database.hand_out_warm([WarmRequest("7029", "x", "a")], clock.now())  # a lone unknown phone
    assert missing.found is None and not missing.audited


async def test_a_failed_hand_out_writes_nothing_and_the_next_one_works(sql_database, cipher, clock, monkeypatch):
    owner, primary = await _with_primary(sql_database, cipher, clock, "7030", "f")
    request = WarmRequest("7030", primary.session_id, "a")
    # the event insert fails inside the transaction (SQLite: after the SELECT; PostgreSQL: the one statement)
    monkeypatch.setattr(warm_hand_out, "_SQLITE_INSERT", "INSERT INTO no_such_table VALUES (?, ?, ?, ?, ?)")
    for statement in ("_PG_STATEMENT", "_PG_ONE"):  # a batch's statement and a lone phone's
        monkeypatch.setattr(
            warm_hand_out, statement, getattr(warm_hand_out, statement).replace("INTO events", "INTO nope")
        )
    with pytest.raises(Exception, match=r"no_such_table|nope"):
        await sql_database.hand_out_warm([request], clock.now())
    assert await _handed_out(sql_database, owner.id) == []
    monkeypatch.undo()
    [answer] = await sql_database.hand_out_warm([request], clock.now())
    assert answer.audited
    assert len(await _handed_out(sql_database, owner.id)) == 1
