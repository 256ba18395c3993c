"""The AuditLog contract (``uow.audit``), run against memory, SQLite and PostgreSQL.

Covers append_event, append_events, events (paging), event_times, recent_verdicts, open_login_attempts,
phones_with_open_login_attempts.
"""

from __future__ import annotations

from datetime import timedelta

from tests.storage.builders import add_account
from tgsessions.domain.model import Action, Event
from tgsessions.domain.verdict import VerdictKind


async def test_events_page_newest_first(database, clock):
    owner = await add_account(database, "900", clock.now())
    other = await add_account(database, "901", clock.now())
    async with database.unit_of_work() as uow:
        for n in range(7):
            detail = {"n": n, "ok": True, "note": None, "ratio": 0.5}
            event = Event(
                owner.id, Action.HANDED_OUT, "api:k1", "ok", clock.advance(1), session_id="s_x", detail=detail
            )
            await uow.audit.append_event(event)
            await uow.audit.append_event(Event(other.id, Action.HANDED_OUT, "cli", "ok", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        first = await uow.audit.events(owner.id, limit=3)
        second = await uow.audit.events(owner.id, limit=3, before_id=first[-1].id)
        third = await uow.audit.events(owner.id, limit=3, before_id=second[-1].id)
    assert [e.detail["n"] for e in first + second + third] == [6, 5, 4, 3, 2, 1, 0]
    ids = [e.id for e in first + second + third]
    assert ids == sorted(ids, reverse=True)
    newest = first[0]
    assert (newest.account_id, newest.action, newest.actor, newest.outcome) == (
        owner.id,
        Action.HANDED_OUT,
        "api:k1",
        "ok",
    )
    assert newest.session_id == "s_x"
    assert newest.detail == {"n": 6, "ok": True, "note": None, "ratio": 0.5}
    assert newest.at == clock.now()
    assert newest.at.utcoffset() == timedelta(0)


async def test_append_events_keeps_the_order_and_an_empty_batch_writes_nothing(database, clock):
    owner = await add_account(database, "910", clock.now())
    batch = [Event(owner.id, Action.VALIDATED, "svc", "alive", clock.now(), detail={"n": n}) for n in range(4)]
    async with database.unit_of_work() as uow:
        await uow.audit.append_events([])
        await uow.audit.append_events(batch)
        await uow.audit.append_events(())
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.audit.events(owner.id, limit=10)
    assert [e.detail["n"] for e in found] == [3, 2, 1, 0]  # appended in order: the last is the newest
    assert all(e.id is not None for e in found)
    assert all(e.id is None for e in batch), "the events given are not changed"


async def test_an_event_round_trips_with_its_defaults(database, clock):
    owner = await add_account(database, "920", clock.now())
    async with database.unit_of_work() as uow:
        await uow.audit.append_event(Event(owner.id, Action.QUARANTINED, "svc", "failed", clock.now(), reason="why"))
        await uow.commit()
    async with database.unit_of_work() as uow:
        (event,) = await uow.audit.events(owner.id, limit=10)
        assert await uow.audit.events(owner.id + 1000, limit=10) == []
        assert await uow.audit.events(owner.id, limit=10, before_id=event.id) == []
    assert (event.action, event.reason, event.session_id, event.detail) == (Action.QUARANTINED, "why", None, {})


async def test_events_are_visible_to_their_unit_of_work_only_until_it_commits(database, clock):
    owner = await add_account(database, "930", clock.now())
    async with database.unit_of_work() as uow:
        await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", clock.now()))
        assert len(await uow.audit.events(owner.id, limit=10)) == 1
        assert await uow.audit.event_times(owner.id, Action.LOGIN_ATTEMPT, clock.now()) == [clock.now()]
        assert await uow.audit.open_login_attempts(owner.id) == [clock.now()]
        assert await uow.audit.phones_with_open_login_attempts() == ["930"]
    async with database.unit_of_work() as uow:
        assert await uow.audit.events(owner.id, limit=10) == []
        assert await uow.audit.phones_with_open_login_attempts() == []


async def test_event_times_window(database, clock):
    owner = await add_account(database, "1000", clock.now())
    start = clock.now()
    async with database.unit_of_work() as uow:
        for minutes in (0, 10, 20, 30):
            at = start + timedelta(minutes=minutes)
            await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at))
        await uow.audit.append_event(Event(owner.id, Action.MINTED, "svc", "ok", start + timedelta(minutes=25)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        times = await uow.audit.event_times(owner.id, Action.LOGIN_ATTEMPT, start + timedelta(minutes=10))
        none = await uow.audit.event_times(owner.id, Action.REVOKED, start)
    assert times == [start + timedelta(minutes=m) for m in (10, 20, 30)]
    assert none == []


async def test_event_times_are_oldest_first_and_of_one_account(database, clock):
    owner = await add_account(database, "1010", clock.now())
    other = await add_account(database, "1011", clock.now())
    start = clock.now()
    async with database.unit_of_work() as uow:
        for minutes in (30, 10, 20, 10):  # appended out of time order
            at = start + timedelta(minutes=minutes)
            await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at))
        await uow.audit.append_event(Event(other.id, Action.LOGIN_ATTEMPT, "svc", "ok", start + timedelta(minutes=15)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        times = await uow.audit.event_times(owner.id, Action.LOGIN_ATTEMPT, start)
        later = await uow.audit.event_times(owner.id, Action.LOGIN_ATTEMPT, start + timedelta(minutes=31))
    assert times == [start + timedelta(minutes=m) for m in (10, 10, 20, 30)]
    assert later == []


async def test_recent_verdicts_newest_first(database, clock):
    owner = await add_account(database, "1100", clock.now())
    outcomes = ["alive", "dead", "unknown", "alive", "account_dead"]
    async with database.unit_of_work() as uow:
        for outcome in outcomes:
            await uow.audit.append_event(Event(owner.id, Action.VALIDATED, "svc", outcome, clock.advance(1)))
            await uow.audit.append_event(Event(owner.id, Action.HANDED_OUT, "svc", "dead", clock.advance(1)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        recent = await uow.audit.recent_verdicts(owner.id, 4)
    assert recent == [VerdictKind.ACCOUNT_DEAD, VerdictKind.ALIVE, VerdictKind.UNKNOWN, VerdictKind.DEAD]


async def test_recent_verdicts_are_of_one_account_and_never_an_unknown_outcome(database, clock):
    owner = await add_account(database, "1110", clock.now())
    other = await add_account(database, "1111", clock.now())
    async with database.unit_of_work() as uow:
        assert await uow.audit.recent_verdicts(owner.id, 5) == []
        await uow.audit.append_event(Event(owner.id, Action.VALIDATED, "svc", "dead", clock.advance(1)))
        await uow.audit.append_event(Event(owner.id, Action.VALIDATED, "svc", "not-a-verdict", clock.advance(1)))
        await uow.audit.append_event(Event(other.id, Action.VALIDATED, "svc", "account_dead", clock.advance(1)))
        await uow.audit.append_event(Event(owner.id, Action.VALIDATED, "svc", "alive", clock.advance(1)))
        assert await uow.audit.recent_verdicts(owner.id, 10) == [VerdictKind.ALIVE, VerdictKind.DEAD]  # own writes
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.recent_verdicts(owner.id, 10) == [VerdictKind.ALIVE, VerdictKind.DEAD]
        assert await uow.audit.recent_verdicts(owner.id, 1) == [VerdictKind.ALIVE]
        assert await uow.audit.recent_verdicts(other.id, 10) == [VerdictKind.ACCOUNT_DEAD]


async def test_open_login_attempts_are_those_since_the_last_reconciled_event(database, clock):
    owner = await add_account(database, "1200", clock.now())
    other = await add_account(database, "1201", clock.now())
    start = clock.now()

    def at(minutes: int):
        return start + timedelta(minutes=minutes)

    async with database.unit_of_work() as uow:
        assert await uow.audit.open_login_attempts(owner.id) == []
        for minutes in (1, 2):
            await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at(minutes)))
        await uow.audit.append_event(Event(other.id, Action.LOGIN_ATTEMPT, "svc", "ok", at(3)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.open_login_attempts(owner.id) == [at(1), at(2)]  # oldest first
        await uow.audit.append_event(Event(owner.id, Action.RECONCILED, "svc", "ok", at(4)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.open_login_attempts(owner.id) == []
        await uow.audit.append_event(Event(owner.id, Action.MINTED, "svc", "ok", at(5)))  # not an attempt
        await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at(7)))
        await uow.audit.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at(6)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.open_login_attempts(owner.id) == [at(7), at(6)]  # in the order they were written
        assert await uow.audit.open_login_attempts(other.id) == [at(3)]  # another account's reconcile is not its own


async def test_phones_with_open_login_attempts(database, clock):
    open_one = await add_account(database, "1302", clock.now())
    reconciled = await add_account(database, "1300", clock.now())
    reopened = await add_account(database, "1301", clock.now())
    quiet = await add_account(database, "1303", clock.now())
    async with database.unit_of_work() as uow:
        assert await uow.audit.phones_with_open_login_attempts() == []
        for account_id, actions in (
            (open_one.id, [Action.LOGIN_ATTEMPT, Action.LOGIN_ATTEMPT]),
            (reconciled.id, [Action.LOGIN_ATTEMPT, Action.RECONCILED]),
            (reopened.id, [Action.LOGIN_ATTEMPT, Action.RECONCILED, Action.LOGIN_ATTEMPT]),
            (quiet.id, [Action.MINTED, Action.VALIDATED]),
        ):
            for action in actions:
                await uow.audit.append_event(Event(account_id, action, "svc", "ok", clock.advance(1)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.phones_with_open_login_attempts() == ["1301", "1302"]  # by phone, once each
        await uow.audit.append_event(Event(reopened.id, Action.RECONCILED, "svc", "ok", clock.advance(1)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.audit.phones_with_open_login_attempts() == ["1302"]
