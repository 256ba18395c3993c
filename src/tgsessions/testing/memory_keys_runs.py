"""In-memory fakes of ApiKeyStore and RunStore, used by InMemoryDatabase's units of work (memory_db.py).

Each reads a snapshot of the committed rows (a dict owned by the database) plus its own writes; at commit the unit
of work calls ``check`` (keys: uniqueness against what others committed since) and then ``write``. Ids come from
counters that never roll back, like database sequences.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import InvalidInput, NotFound
from tgsessions.domain.runs import MaintenanceRun


def _key(key: ApiKey) -> ApiKey:
    return replace(key, scopes=frozenset(key.scopes))  # the other fields are immutable


def _run(run: MaintenanceRun) -> MaintenanceRun:
    """A deep copy whose report went through JSON, as the SQL adapter stores it (TypeError if it is not JSON-able)."""
    return replace(run, report=json.loads(json.dumps(run.report, sort_keys=True)))


def _duplicate_key(name: str) -> InvalidInput:
    return InvalidInput(f"an API key named {name} already exists", field="name")


class InMemoryApiKeyStore:
    """Like SqlApiKeyStore: unique name, key_id and key_hash; ``save_key`` writes name, scopes, revoked_at and
    rate_limit_per_minute only."""

    def __init__(self, stored: dict[int, ApiKey], ids: Iterator[int]) -> None:
        self._stored = stored
        self._ids = ids
        self._keys = dict(stored)
        self._dirty: set[int] = set()

    @staticmethod
    def _clashes(a: ApiKey, b: ApiKey) -> bool:
        return a.name == b.name or a.key_id == b.key_id or a.key_hash == b.key_hash

    async def add_key(self, key: ApiKey) -> ApiKey:
        if any(self._clashes(key, other) for other in self._keys.values()):
            raise _duplicate_key(key.name)
        key.id = next(self._ids)
        self._keys[key.id] = _key(key)
        self._dirty.add(key.id)
        return key

    async def key_by_id(self, key_id: str) -> ApiKey | None:
        found = next((k for k in self._keys.values() if k.key_id == key_id), None)
        return _key(found) if found is not None else None

    async def keys(self) -> list[ApiKey]:
        return [_key(self._keys[i]) for i in sorted(self._keys)]

    async def save_key(self, key: ApiKey) -> None:
        if key.id is None:
            raise ValueError("save_key needs a stored key (id is None)")
        stored = self._keys.get(key.id)
        if stored is None:
            raise NotFound(f"API key {key.key_id} is not stored")
        if any(other.name == key.name for i, other in self._keys.items() if i != key.id):
            raise _duplicate_key(key.name)
        self._keys[key.id] = replace(
            stored,
            name=key.name,
            scopes=frozenset(key.scopes),
            revoked_at=key.revoked_at,
            rate_limit_per_minute=key.rate_limit_per_minute,
        )
        self._dirty.add(key.id)

    def check(self) -> None:
        for key_pk in self._dirty:
            mine = self._keys[key_pk]
            if any(self._clashes(mine, other) for i, other in self._stored.items() if i != key_pk):
                raise _duplicate_key(mine.name)

    def write(self) -> None:
        for key_pk in self._dirty:
            self._stored[key_pk] = self._keys[key_pk]
        self._dirty.clear()


class InMemoryRunStore:
    """Like SqlRunStore: the report goes through JSON; ``save_run`` writes the progress fields (with the
    resume cursor ``last_account_id``)."""

    def __init__(self, stored: dict[int, MaintenanceRun], ids: Iterator[int]) -> None:
        self._stored = stored
        self._ids = ids
        self._runs = dict(stored)
        self._dirty: set[int] = set()

    async def add_run(self, run: MaintenanceRun) -> MaintenanceRun:
        copied = _run(run)
        run.id = copied.id = next(self._ids)
        self._runs[run.id] = copied
        self._dirty.add(run.id)
        return run

    async def save_run(self, run: MaintenanceRun) -> None:
        if run.id is None:
            raise ValueError("save_run needs a stored run (id is None)")
        stored = self._runs.get(run.id)
        if stored is None:
            raise NotFound(f"maintenance run {run.id} is not stored")
        progress = _run(run)
        self._runs[run.id] = replace(
            stored,
            status=progress.status,
            total=progress.total,
            done=progress.done,
            finished_at=progress.finished_at,
            report=progress.report,
            error=progress.error,
            last_account_id=progress.last_account_id,
        )
        self._dirty.add(run.id)

    async def run_by_id(self, run_id: int) -> MaintenanceRun | None:
        found = self._runs.get(run_id)
        return _run(found) if found is not None else None

    async def latest_run(self) -> MaintenanceRun | None:
        return _run(self._runs[max(self._runs)]) if self._runs else None

    def write(self) -> None:
        for run_pk in self._dirty:
            self._stored[run_pk] = self._runs[run_pk]
        self._dirty.clear()
