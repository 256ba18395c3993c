"""The ApiKeyRepository and RunRepository contract, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.builders import account
from tgsessions.domain.access import ALL_SCOPES, ApiKey, Scope
from tgsessions.domain.errors import InvalidInput, NotFound
from tgsessions.domain.runs import MaintenanceRun, RunStatus

NOW = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)


def api_key(tag: str, *, scopes: frozenset[Scope] = frozenset({Scope.STATUS_READ}), **kwargs: object) -> ApiKey:
    return ApiKey(
        key_id=f"kid{tag}",
        name=f"caller-{tag}",
        scopes=scopes,
        key_hash=f"hash-{tag}-" + "0" * 64,
        created_at=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


async def add_keys(database, *keys: ApiKey) -> list[ApiKey]:
    async with database.unit_of_work() as uow:
        stored = [await uow.keys.add_key(key) for key in keys]
        await uow.commit()
    return stored


async def load_key(database, key_id: str) -> ApiKey | None:
    async with database.unit_of_work() as uow:
        return await uow.keys.key_by_id(key_id)


# --- API keys ---------------------------------------------------------------------------------------------------


async def test_key_round_trip_keeps_every_field(database):
    original = api_key(
        "a",
        scopes=frozenset({Scope.SESSIONS_READ, Scope.ADMIN, Scope.METRICS_READ}),
        revoked_at=NOW + timedelta(days=2, microseconds=5),
        rate_limit_per_minute=120,
    )
    [stored] = await add_keys(database, original)
    assert stored is original
    assert stored.id is not None

    loaded = await load_key(database, "kida")
    assert loaded is not None
    assert loaded == original
    assert loaded is not original
    assert isinstance(loaded.scopes, frozenset)
    assert all(isinstance(scope, Scope) for scope in loaded.scopes)
    assert loaded.scopes == {Scope.SESSIONS_READ, Scope.ADMIN, Scope.METRICS_READ}
    assert loaded.revoked_at == NOW + timedelta(days=2, microseconds=5)
    for value in (loaded.created_at, loaded.revoked_at):
        assert value.utcoffset() == timedelta(0)
    assert not loaded.active


async def test_key_with_defaults_and_every_scope(database):
    await add_keys(database, api_key("b", scopes=ALL_SCOPES))
    loaded = await load_key(database, "kidb")
    assert loaded is not None
    assert loaded.scopes == ALL_SCOPES
    assert (loaded.revoked_at, loaded.rate_limit_per_minute, loaded.active) == (None, None, True)


async def test_unknown_key_id_is_none(database):
    await add_keys(database, api_key("c"))
    assert await load_key(database, "nope") is None


@pytest.mark.parametrize("clash", ["name", "key_id"])
async def test_duplicate_name_or_key_id_is_invalid_input_and_the_unit_of_work_stays_usable(database, clash):
    await add_keys(database, api_key("d"))
    duplicate = api_key("e")
    if clash == "name":
        duplicate.name = "caller-d"
    else:
        duplicate.key_id = "kidd"
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.keys.add_key(duplicate)
        assert caught.value.field == "name"
        assert caught.value.message == f"an API key named {duplicate.name} already exists"
        await uow.keys.add_key(api_key("f"))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [k.key_id for k in await uow.keys.keys()] == ["kidd", "kidf"]


async def test_duplicate_name_in_the_same_unit_of_work(database):
    async with database.unit_of_work() as uow:
        await uow.keys.add_key(api_key("g"))
        twin = api_key("h")
        twin.name = "caller-g"
        with pytest.raises(InvalidInput):
            await uow.keys.add_key(twin)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [k.name for k in await uow.keys.keys()] == ["caller-g"]


async def test_revoke_and_change_a_key_with_save_key(database):
    [key] = await add_keys(database, api_key("i"))
    key.revoked_at = NOW + timedelta(hours=1)
    key.name = "renamed"
    key.scopes = frozenset({Scope.SESSIONS_WRITE, Scope.STATUS_READ})
    key.rate_limit_per_minute = 7
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(key)
        await uow.commit()

    loaded = await load_key(database, "kidi")
    assert loaded is not None
    assert loaded == key
    assert not loaded.active

    loaded.revoked_at = None  # un-revoking and clearing the limit are saved too
    loaded.rate_limit_per_minute = None
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(loaded)
        await uow.commit()
    again = await load_key(database, "kidi")
    assert again is not None
    assert (again.active, again.rate_limit_per_minute, again.name) == (True, None, "renamed")


async def test_save_key_keeps_key_id_hash_and_created_at(database):
    [key] = await add_keys(database, api_key("j"))
    changed = api_key("j")
    changed.id = key.id
    changed.key_hash = "other-hash"
    changed.created_at = NOW + timedelta(days=9)
    changed.name = "still-j"
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(changed)
        await uow.commit()
    loaded = await load_key(database, "kidj")
    assert loaded is not None
    assert (loaded.name, loaded.key_hash, loaded.created_at) == ("still-j", key.key_hash, NOW)


async def test_renaming_to_a_used_name_is_invalid_input(database):
    _, second = await add_keys(database, api_key("k"), api_key("l"))
    second.name = "caller-k"
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.keys.save_key(second)
        assert caught.value.field == "name"
        assert [k.name for k in await uow.keys.keys()] == ["caller-k", "caller-l"]  # still usable


async def test_saving_a_key_that_is_not_stored_is_not_found(database):
    ghost = api_key("m")
    ghost.id = 4242
    async with database.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await uow.keys.save_key(ghost)


async def test_keys_oldest_first_revoked_included(database):
    first, second, third = await add_keys(database, api_key("n"), api_key("o"), api_key("p"))
    second.revoked_at = NOW
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(second)
        await uow.commit()
    async with database.unit_of_work() as uow:
        listed = await uow.keys.keys()
    assert [k.key_id for k in listed] == ["kidn", "kido", "kidp"]
    assert [k.id for k in listed] == sorted(k.id for k in (first, second, third))
    assert [k.active for k in listed] == [True, False, True]


async def test_keys_are_not_stored_without_commit(database):
    async with database.unit_of_work() as uow:
        await uow.keys.add_key(api_key("q"))
        assert [k.key_id for k in await uow.keys.keys()] == ["kidq"]  # visible inside the unit of work
    async with database.unit_of_work() as uow:
        assert await uow.keys.keys() == []
        assert await uow.keys.key_by_id("kidq") is None


async def test_an_exception_rolls_back_keys_and_runs(database):
    async def add_then_fail() -> None:
        async with database.unit_of_work() as uow:
            await uow.keys.add_key(api_key("r"))
            await uow.runs.add_run(MaintenanceRun(actor="cli", started_at=NOW))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with database.unit_of_work() as uow:
        assert await uow.keys.keys() == []
        assert await uow.runs.latest_run() is None


async def test_returned_keys_are_copies(database):
    [key] = await add_keys(database, api_key("s"))
    key.name = "mutated-after-add"
    loaded = await load_key(database, "kids")
    assert loaded is not None
    assert loaded.name == "caller-s"
    loaded.revoked_at = NOW  # not saved
    again = await load_key(database, "kids")
    assert again is not None
    assert again.active


async def test_keys_share_the_transaction_of_accounts_and_runs(database, clock):
    async with database.unit_of_work() as uow:
        await uow.accounts.add_account(account("555", clock.now()))
        await uow.keys.add_key(api_key("t"))
        await uow.runs.add_run(MaintenanceRun(actor="cli", started_at=NOW))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.accounts.count_accounts() == 1
        assert await uow.keys.key_by_id("kidt") is not None
        assert await uow.runs.latest_run() is not None


# --- maintenance runs ---------------------------------------------------------------------------------------------


async def test_run_round_trip_add_save_and_load(database):
    run = MaintenanceRun(actor="key:kid1", started_at=NOW, total=10)
    async with database.unit_of_work() as uow:
        stored = await uow.runs.add_run(run)
        await uow.commit()
    assert stored is run
    assert run.id is not None

    async with database.unit_of_work() as uow:
        loaded = await uow.runs.run_by_id(run.id)
    assert loaded == run
    assert loaded is not None
    assert (loaded.status, loaded.done, loaded.finished_at, loaded.report, loaded.error) == (
        RunStatus.RUNNING,
        0,
        None,
        {},
        None,
    )

    run.done = 10
    run.status = RunStatus.FAILED
    run.finished_at = NOW + timedelta(minutes=3, microseconds=1)
    run.error = "storage went away"
    run.report = {"accounts": 10, "promoted": 2, "phones": ["1", "2"], "nested": {"ok": True, "ratio": 0.5}}
    async with database.unit_of_work() as uow:
        await uow.runs.save_run(run)
        await uow.commit()
    async with database.unit_of_work() as uow:
        loaded = await uow.runs.run_by_id(run.id)
    assert loaded == run
    assert loaded is not None
    assert loaded.status is RunStatus.FAILED
    assert loaded.started_at.utcoffset() == timedelta(0)
    assert loaded.finished_at is not None
    assert loaded.finished_at.utcoffset() == timedelta(0)


async def test_report_round_trips_as_json(database):
    report: dict[str, object] = {"none": None, "text": "ü", "big": 2**40, "list": [1, "a", None], "empty": {}}
    run = MaintenanceRun(actor="cli", started_at=NOW, report=report)
    async with database.unit_of_work() as uow:
        await uow.runs.add_run(run)
        await uow.commit()
    report["text"] = "mutated after add"  # the stored report is a copy
    async with database.unit_of_work() as uow:
        assert run.id is not None
        loaded = await uow.runs.run_by_id(run.id)
    assert loaded is not None
    assert loaded.report == {"none": None, "text": "ü", "big": 2**40, "list": [1, "a", None], "empty": {}}


async def test_latest_run_is_the_highest_id(database):
    async with database.unit_of_work() as uow:
        assert await uow.runs.latest_run() is None
        first = await uow.runs.add_run(MaintenanceRun(actor="a", started_at=NOW + timedelta(hours=1)))
        second = await uow.runs.add_run(MaintenanceRun(actor="b", started_at=NOW))  # older start, newer id
        await uow.commit()
    assert first.id is not None
    assert second.id is not None
    assert second.id > first.id
    async with database.unit_of_work() as uow:
        latest = await uow.runs.latest_run()
        assert latest is not None
        assert latest.actor == "b"
        assert latest.id == second.id
        third = await uow.runs.add_run(MaintenanceRun(actor="c", started_at=NOW))
        inside = await uow.runs.latest_run()  # own uncommitted writes are visible
        assert inside is not None
        assert inside.id == third.id
    async with database.unit_of_work() as uow:
        after_rollback = await uow.runs.latest_run()
    assert after_rollback is not None
    assert after_rollback.actor == "b"


async def test_unknown_run_id_is_none(database):
    async with database.unit_of_work() as uow:
        assert await uow.runs.run_by_id(1) is None
        run = await uow.runs.add_run(MaintenanceRun(actor="a", started_at=NOW))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert run.id is not None
        assert await uow.runs.run_by_id(run.id + 1000) is None


async def test_saving_a_run_that_is_not_stored_is_not_found(database):
    ghost = MaintenanceRun(actor="a", started_at=NOW, id=999)
    async with database.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await uow.runs.save_run(ghost)


async def test_save_run_is_not_stored_without_commit(database):
    run = MaintenanceRun(actor="a", started_at=NOW)
    async with database.unit_of_work() as uow:
        await uow.runs.add_run(run)
        await uow.commit()
    run.status = RunStatus.FINISHED
    run.done = 3
    async with database.unit_of_work() as uow:
        await uow.runs.save_run(run)
    async with database.unit_of_work() as uow:
        assert run.id is not None
        loaded = await uow.runs.run_by_id(run.id)
    assert loaded is not None
    assert (loaded.status, loaded.done) == (RunStatus.RUNNING, 0)


async def test_run_cursor_and_holder_round_trip_and_only_the_cursor_is_progress(database):
    run = MaintenanceRun(actor="scheduler", started_at=NOW, holder="tgs-0123456789ab", last_account_id=41)
    async with database.unit_of_work() as uow:
        await uow.runs.add_run(run)
        await uow.commit()
    run.last_account_id = 2**31 - 1
    run.holder = "someone-else"  # not a progress field: save_run keeps the stored holder
    async with database.unit_of_work() as uow:
        await uow.runs.save_run(run)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert run.id is not None
        loaded = await uow.runs.run_by_id(run.id)
    assert loaded is not None
    assert (loaded.last_account_id, loaded.holder) == (2**31 - 1, "tgs-0123456789ab")
    legacy = MaintenanceRun(actor="cli", started_at=NOW)
    async with database.unit_of_work() as uow:
        await uow.runs.add_run(legacy)
        await uow.commit()
        latest = await uow.runs.latest_run()
    assert latest is not None
    assert (latest.last_account_id, latest.holder) == (None, None)
