"""The AccountRepository / UnitOfWork contract, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.builders import IDENTITY, account, session, session_string
from tgsessions.domain.errors import AccountExists, ConcurrentModification, InvalidInput
from tgsessions.domain.model import AccountState, Action, ClientIdentity, Event, Origin, Role
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import VerdictKind


async def add_account(database, phone, now, **kwargs):
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_account(account(phone, now, **kwargs))
        await uow.commit()
    return stored


async def test_backend_name(database):
    assert database.backend in ("memory", "sqlite", "postgresql")


async def test_account_round_trip_keeps_every_field(database, clock):
    now = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
    original = account("79001234567", now, with_secrets=True)
    original.state = AccountState.BANNED
    original.frozen = True
    original.last_updated = now + timedelta(minutes=5)
    original.last_cleanup = now + timedelta(hours=1, microseconds=7)
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_account(original)
        await uow.commit()
    assert stored.id is not None

    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("79001234567")
    assert loaded is not None
    assert loaded == original
    assert loaded.two_fa == Secret("2fa-password-79001234567")
    assert loaded.proxy is not None
    assert loaded.proxy.password == Secret("proxy-pw-79001234567")
    assert (loaded.proxy.scheme, loaded.proxy.host, loaded.proxy.port) == ("socks5", "proxy.example", 1080)
    assert loaded.identity == IDENTITY
    for value in (loaded.created_at, loaded.updated_at, loaded.last_updated, loaded.last_cleanup):
        assert value is not None
        assert value.utcoffset() == timedelta(0)


async def test_account_without_optional_fields(database, clock):
    await add_account(database, "100", clock.now())
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("100")
        missing = await uow.accounts.get_account("101")
    assert loaded is not None
    assert (loaded.two_fa, loaded.proxy, loaded.last_updated, loaded.version) == (None, None, None, 1)
    assert loaded.identity == IDENTITY
    assert missing is None


async def test_duplicate_phone_raises_account_exists_and_the_unit_of_work_stays_usable(database, clock):
    await add_account(database, "200", clock.now())
    async with database.unit_of_work() as uow:
        with pytest.raises(AccountExists) as caught:
            await uow.accounts.add_account(account("200", clock.now()))
        assert caught.value.phone == "200"
        await uow.accounts.add_account(account("201", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 2


async def test_duplicate_session_string_is_invalid_input(database, clock, cipher):
    first = await add_account(database, "300", clock.now())
    second = await add_account(database, "301", clock.now())
    async with database.unit_of_work() as uow:
        await uow.accounts.add_session(session(cipher, first.id, "a", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.accounts.add_session(session(cipher, second.id, "a", clock.now()))
        assert caught.value.field == "session"
        assert caught.value.message == "this session string is already stored"
        assert session_string("a") not in str(caught.value), "the error must not carry the session string"


async def test_save_account_is_optimistic(database, clock):
    await add_account(database, "400", clock.now())
    async with database.unit_of_work() as uow:
        mine = await uow.accounts.get_account("400")
    async with database.unit_of_work() as uow:
        theirs = await uow.accounts.get_account("400")
    assert mine is not None
    assert theirs is not None

    mine.frozen = True
    async with database.unit_of_work() as uow:
        await uow.accounts.save_account(mine)
        await uow.commit()
    assert mine.version == 2

    theirs.state = AccountState.UNRECOVERABLE
    async with database.unit_of_work() as uow:
        with pytest.raises(ConcurrentModification):
            await uow.accounts.save_account(theirs)

    async with database.unit_of_work() as uow:
        stored = await uow.accounts.get_account("400")
    assert stored is not None
    assert (stored.version, stored.frozen, stored.state) == (2, True, AccountState.ACTIVE)


async def test_saving_twice_in_one_unit_of_work_bumps_twice(database, clock):
    await add_account(database, "410", clock.now())
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("410")
        assert loaded is not None
        await uow.accounts.save_account(loaded)
        await uow.accounts.save_account(loaded)
        await uow.commit()
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.get_account("410")
    assert stored is not None
    assert stored.version == loaded.version == 3


async def test_nothing_is_stored_without_commit(database, clock, cipher):
    async with database.unit_of_work() as uow:
        added = await uow.accounts.add_account(account("500", clock.now()))
        await uow.accounts.append_event(Event(added.id, Action.ACCOUNT_ADDED, "test", "ok", clock.now()))
        assert await uow.accounts.get_account("500") is not None, "a unit of work sees its own writes"
    async with database.unit_of_work() as uow:
        assert await uow.accounts.get_account("500") is None
        assert await uow.accounts.count_accounts() == 0


async def test_an_exception_rolls_back(database, clock):
    stored = await add_account(database, "510", clock.now())

    async def change_then_fail() -> None:
        async with database.unit_of_work() as uow:
            loaded = await uow.accounts.get_account("510")
            loaded.frozen = True
            await uow.accounts.save_account(loaded)
            await uow.accounts.append_event(Event(stored.id, Action.STATE_CHANGED, "test", "ok", clock.now()))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await change_then_fail()
    async with database.unit_of_work() as uow:
        again = await uow.accounts.get_account("510")
        assert await uow.accounts.events(stored.id, limit=10) == []
    assert again is not None
    assert (again.frozen, again.version) == (False, 1)


async def test_returned_entities_are_copies(database, clock, cipher):
    stored = await add_account(database, "520", clock.now())
    async with database.unit_of_work() as uow:
        await uow.accounts.add_session(session(cipher, stored.id, "c", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.get_account("520")
        loaded.frozen = True
        (first,) = await uow.accounts.sessions(stored.id)
        first.role = Role.PRIMARY
        assert (await uow.accounts.get_account("520")).frozen is False
        assert (await uow.accounts.sessions(stored.id))[0].role is Role.BACKUP
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert (await uow.accounts.get_account("520")).frozen is False


async def test_sessions_round_trip_filter_and_order(database, clock, cipher):
    owner = await add_account(database, "600", clock.now())
    other = await add_account(database, "601", clock.now())
    t0 = clock.now()
    async with database.unit_of_work() as uow:
        keeper = await uow.accounts.add_session(session(cipher, owner.id, "k", t0, role=Role.KEEPER))
        old = await uow.accounts.add_session(session(cipher, owner.id, "old", t0 + timedelta(seconds=1)))
        new = await uow.accounts.add_session(session(cipher, owner.id, "new", t0 + timedelta(seconds=2)))
        gone = await uow.accounts.add_session(session(cipher, owner.id, "gone", t0 + timedelta(seconds=3)))
        await uow.accounts.add_session(session(cipher, other.id, "x", t0))
        await uow.commit()
    assert len({keeper.id, old.id, new.id, gone.id}) == 4

    gone.retire(t0 + timedelta(seconds=4))
    async with database.unit_of_work() as uow:
        await uow.accounts.save_session(gone)
        await uow.commit()

    async with database.unit_of_work() as uow:
        live = await uow.accounts.sessions(owner.id)
        everything = await uow.accounts.sessions(owner.id, include_retired=True)
    assert [s.session_id for s in live] == [new.session_id, old.session_id, keeper.session_id]
    assert live[0] == new
    assert live[0].string == Secret(session_string("new"))
    assert {s.session_id for s in everything} == {keeper.session_id, old.session_id, new.session_id, gone.session_id}
    retired = next(s for s in everything if s.session_id == gone.session_id)
    assert retired.role is Role.RETIRED
    assert retired.string is None


async def test_find_session_finds_any_account_and_retired_ones(database, clock, cipher):
    owner = await add_account(database, "700", clock.now())
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_session(session(cipher, owner.id, "f", clock.now(), role=Role.RETIRED))
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.accounts.find_session(stored.session_id)
        missing = await uow.accounts.find_session("s_" + "0" * 32)
    assert found is not None
    assert (found.id, found.account_id, found.role, found.string) == (stored.id, owner.id, Role.RETIRED, None)
    assert missing is None


async def test_save_session_round_trip(database, clock, cipher):
    owner = await add_account(database, "800", clock.now())
    async with database.unit_of_work() as uow:
        stored = await uow.accounts.add_session(session(cipher, owner.id, "s", clock.now(), origin=Origin.MINTED))
        await uow.commit()
    later = clock.advance(3600)
    stored.role = Role.PRIMARY
    stored.role_since = later
    stored.origin = Origin.PROMOTED
    stored.identity = ClientIdentity(api_id=1, device_model="Other")
    stored.verdict = VerdictKind.DEAD
    stored.verdict_reason = "auth_key_unregistered"
    stored.verdict_at = later
    stored.consecutive_failures = 3
    stored.open_until = later + timedelta(minutes=5)
    stored.auth_hash = -(2**62) + 7
    async with database.unit_of_work() as uow:
        await uow.accounts.save_session(stored)
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.accounts.find_session(stored.session_id)
    assert loaded == stored
    assert loaded.open_until.utcoffset() == timedelta(0)


async def test_events_page_newest_first(database, clock):
    owner = await add_account(database, "900", clock.now())
    other = await add_account(database, "901", clock.now())
    async with database.unit_of_work() as uow:
        for n in range(7):
            detail = {"n": n, "ok": True, "note": None, "ratio": 0.5}
            event = Event(
                owner.id, Action.HANDED_OUT, "api:k1", "ok", clock.advance(1), session_id="s_x", detail=detail
            )
            await uow.accounts.append_event(event)
            await uow.accounts.append_event(Event(other.id, Action.HANDED_OUT, "cli", "ok", clock.now()))
        await uow.commit()
    async with database.unit_of_work() as uow:
        first = await uow.accounts.events(owner.id, limit=3)
        second = await uow.accounts.events(owner.id, limit=3, before_id=first[-1].id)
        third = await uow.accounts.events(owner.id, limit=3, before_id=second[-1].id)
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


async def test_event_times_window(database, clock):
    owner = await add_account(database, "1000", clock.now())
    start = clock.now()
    async with database.unit_of_work() as uow:
        for minutes in (0, 10, 20, 30):
            at = start + timedelta(minutes=minutes)
            await uow.accounts.append_event(Event(owner.id, Action.LOGIN_ATTEMPT, "svc", "ok", at))
        await uow.accounts.append_event(Event(owner.id, Action.MINTED, "svc", "ok", start + timedelta(minutes=25)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        times = await uow.accounts.event_times(owner.id, Action.LOGIN_ATTEMPT, start + timedelta(minutes=10))
        none = await uow.accounts.event_times(owner.id, Action.REVOKED, start)
    assert times == [start + timedelta(minutes=m) for m in (10, 20, 30)]
    assert none == []


async def test_recent_verdicts_newest_first(database, clock):
    owner = await add_account(database, "1100", clock.now())
    outcomes = ["alive", "dead", "unknown", "alive", "account_dead"]
    async with database.unit_of_work() as uow:
        for outcome in outcomes:
            await uow.accounts.append_event(Event(owner.id, Action.VALIDATED, "svc", outcome, clock.advance(1)))
            await uow.accounts.append_event(Event(owner.id, Action.HANDED_OUT, "svc", "dead", clock.advance(1)))
        await uow.commit()
    async with database.unit_of_work() as uow:
        recent = await uow.accounts.recent_verdicts(owner.id, 4)
    assert recent == [VerdictKind.ACCOUNT_DEAD, VerdictKind.ALIVE, VerdictKind.UNKNOWN, VerdictKind.DEAD]


async def test_accounts_page_streams_all_in_id_order(database, clock):
    phones = [f"12{n:02d}" for n in range(11)]
    for phone in phones:
        await add_account(database, phone, clock.now())
    seen: list[str] = []
    after = None
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 11
        while page := await uow.accounts.accounts_page(after_id=after, limit=4):
            assert len(page) <= 4
            seen += [a.phone for a in page]
            after = page[-1].id
    assert seen == phones


async def test_account_and_primary_reads_both_in_one_call(database, cipher, clock):
    now = clock.now()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.account_and_primary("79990000000") is None
    stored = await add_account(database, "79001234567", now, with_secrets=True)
    async with database.unit_of_work() as uow:
        found = await uow.accounts.account_and_primary("79001234567")
        assert found is not None and found[0].id == stored.id and found[1] is None
        backup = await uow.accounts.add_session(session(cipher, stored.id, "b", now))
        primary = await uow.accounts.add_session(session(cipher, stored.id, "p", now, role=Role.PRIMARY))
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.accounts.account_and_primary("79001234567")
    assert found is not None
    loaded_account, loaded_primary = found
    assert loaded_account.two_fa == stored.two_fa and loaded_account.proxy == stored.proxy
    assert loaded_primary is not None and loaded_primary.session_id == primary.session_id
    assert loaded_primary.string == primary.string and loaded_primary.session_id != backup.session_id
    assert loaded_primary.identity == IDENTITY and loaded_primary.created_at == now
