"""SqlRunStore: the RunStore port over SQLAlchemy Core, inside one connection's transaction."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tgsessions.adapters.sql import mapping
from tgsessions.adapters.sql.tables import maintenance_runs
from tgsessions.domain.errors import NotFound
from tgsessions.domain.runs import MaintenanceRun

PROGRESS_FIELDS = ("status", "total", "done", "finished_at", "report", "error", "last_account_id")


class SqlRunStore:
    """Maintenance runs in the ``maintenance_runs`` table; the report is stored as a JSON object, so it must hold
    JSON-able values (and comes back as JSON does: tuples as lists, keys as strings). Returned runs are fresh
    objects. ``save_run`` writes the progress fields (status, total, done, finished_at, report, error and the resume
    cursor last_account_id)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add_run(self, run: MaintenanceRun) -> MaintenanceRun:
        statement = insert(maintenance_runs).values(mapping.run_values(run)).returning(maintenance_runs.c.id)
        run.id = (await self._conn.execute(statement)).scalar_one()
        return run

    async def save_run(self, run: MaintenanceRun) -> None:
        """Raises NotFound when the run is not stored."""
        if run.id is None:
            raise ValueError("save_run needs a stored run (id is None)")
        values = mapping.run_values(run)
        changes = {column: values[column] for column in PROGRESS_FIELDS}
        result = await self._conn.execute(
            update(maintenance_runs).where(maintenance_runs.c.id == run.id).values(changes)
        )
        if result.rowcount != 1:
            raise NotFound(f"maintenance run {run.id} is not stored")

    async def run_by_id(self, run_id: int) -> MaintenanceRun | None:
        statement = select(maintenance_runs).where(maintenance_runs.c.id == run_id)
        row = (await self._conn.execute(statement)).mappings().first()
        return mapping.run_from_row(row) if row is not None else None

    async def latest_run(self) -> MaintenanceRun | None:
        statement = select(maintenance_runs).order_by(maintenance_runs.c.id.desc()).limit(1)
        row = (await self._conn.execute(statement)).mappings().first()
        return mapping.run_from_row(row) if row is not None else None
