"""The RunStore contract (``uow.runs``), run against memory, SQLite and PostgreSQL.

Covers add_run, save_run, run_by_id, latest_run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgsessions.domain.errors import NotFound
from tgsessions.domain.runs import MaintenanceRun, RunStatus

NOW = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)


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
