"""SessionFactory: the Python API of tgsessions, one facade over every use case.

Build it with :func:`tgsessions.bootstrap.open_runtime` (settings → adapters → ``Runtime.factory``), or directly
with ports for tests.
Every method normalises and checks its input and raises only errors of :mod:`tgsessions.domain.errors`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import datetime

from tgsessions.domain.clock import Sleep
from tgsessions.domain.metrics import Metrics
from tgsessions.domain.model import ClientIdentity, Origin, Proxy, Role
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.ports import CacheStats, Cipher, Clock, Database, TelegramGateway, VerdictCache
from tgsessions.domain.runs import MaintenanceRun
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service import maintenance, migration, sessions
from tgsessions.service.maintenance import MaintenanceRunner, SweepProgress
from tgsessions.service.migration import RepairReport
from tgsessions.service.options import FactoryOptions
from tgsessions.service.results import (
    AccountSummary,
    BatchItem,
    CleanupReport,
    FetchResult,
    HistoryPage,
    MaintenanceReport,
    SessionInfo,
    StatusReport,
)
from tgsessions.service.sessions import AccountRecord, AddedAccount, DeletedAccount, Reconciled, UseCaseContext

DEFAULT_ACTOR = "python"


class SessionFactory:
    def __init__(
        self,
        *,
        db: Database,
        gateway: TelegramGateway,
        cache: VerdictCache,
        cipher: Cipher,
        clock: Clock,
        options: FactoryOptions | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        lock_holder: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        ctx = self._ctx = UseCaseContext.build(
            db=db,
            gateway=gateway,
            cache=cache,
            cipher=cipher,
            clock=clock,
            options=options or FactoryOptions(),
            sleep=sleep,
            rand=rand,
            lock_holder=lock_holder,
            metrics=metrics,
        )
        self._runner = MaintenanceRunner(ctx, sleep=sleep, rand=rand)

    def __repr__(self) -> str:
        return f"SessionFactory(db={self._ctx.db.backend!r}, telegram={self.telegram_backend!r})"

    @property
    def telegram_backend(self) -> str:
        return self._ctx.gateway.backend

    @property
    def options(self) -> FactoryOptions:
        return self._ctx.options

    async def fetch_one(self, phone: object, *, actor: str = DEFAULT_ACTOR) -> FetchResult:
        """A session of ``phone`` that works right now: the primary, a promoted backup, or a freshly minted one."""
        return await sessions.fetch_one(self._ctx, phone, actor=actor)

    async def batch_fetch(self, phones: Sequence[object], *, actor: str = DEFAULT_ACTOR) -> list[BatchItem]:
        return await sessions.batch_fetch(self._ctx, phones, actor=actor)

    async def add_account(
        self,
        phone: object,
        *,
        primary: object = None,
        keeper: object = None,
        backups: Sequence[object] = (),
        two_fa: object = None,
        identity: ClientIdentity | None = None,
        proxy: Proxy | None = None,
        origin: Origin = Origin.MANUAL,
        fmt: SessionFormat | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> AddedAccount:
        """Strings in any layout (or all in ``fmt``), stored canonically; see sessions.add_account."""
        return await sessions.add_account(
            self._ctx, phone, primary=primary, keeper=keeper, backups=backups, two_fa=two_fa,
            identity=identity, proxy=proxy, origin=origin, fmt=fmt, actor=actor,
        )  # fmt: skip

    async def update_session(
        self, phone: object, new_session: object, *, actor: str = DEFAULT_ACTOR, fmt: SessionFormat | None = None
    ) -> SessionInfo:
        return await sessions.update_session(self._ctx, phone, new_session, actor=actor, fmt=fmt)

    async def add_session(
        self, phone: object, string: object, *, role: Role, two_fa: object = None, actor: str = DEFAULT_ACTOR
    ) -> SessionInfo:
        """Add a live session as the keeper or the newest backup (onboarding, imports); see sessions.add_session."""
        return await sessions.add_session(self._ctx, phone, string, role=role, two_fa=two_fa, actor=actor)

    async def cleanup_sessions(
        self, phone: object, max_backups: int | None = None, *, actor: str = DEFAULT_ACTOR
    ) -> CleanupReport:
        return await sessions.cleanup_sessions(self._ctx, phone, max_backups, actor=actor)

    async def session_status(self, phone: object, *, actor: str = DEFAULT_ACTOR) -> StatusReport:
        return await sessions.session_status(self._ctx, phone, actor=actor)

    async def list_backups(self, phone: object) -> list[SessionInfo]:
        return await sessions.list_backups(self._ctx, phone)

    async def history(self, phone: object, *, limit: int = 50, before: int | None = None) -> HistoryPage:
        return await sessions.history(self._ctx, phone, limit=limit, before=before)

    async def records(
        self, phones: Sequence[object] | None = None, *, with_strings: bool = False, fmt: SessionFormat | None = None,
        actor: str = DEFAULT_ACTOR, via: str = "record",
    ) -> list[AccountRecord]:  # fmt: skip
        """Whole records of ``phones`` (stored ones, in order) or of every account; strings only ``with_strings``
        (then audited), each in the layout it arrived in unless ``fmt``."""
        numbers = None if phones is None else [normalise_phone(p) for p in phones]
        return await sessions.read_records(self._ctx, numbers, with_strings=with_strings, fmt=fmt, actor=actor,
                                          via=via)  # fmt: skip

    async def record(
        self, phone: object, *, with_strings: bool = False, fmt: SessionFormat | None = None,
        actor: str = DEFAULT_ACTOR, via: str = "record",
    ) -> AccountRecord:  # fmt: skip
        return await sessions.read_record(self._ctx, phone, with_strings=with_strings, fmt=fmt, actor=actor, via=via)

    async def delete_account(
        self, phone: object, *, revoke: bool = False, with_strings: bool = False, fmt: SessionFormat | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> DeletedAccount:  # fmt: skip
        """Delete the account (with ``revoke``: its sessions terminated at Telegram first); see sessions/deletion.py."""
        return await sessions.delete_account(self._ctx, phone, revoke=revoke, with_strings=with_strings, fmt=fmt,
                                             actor=actor)  # fmt: skip

    async def reconcile_open_intents(self, *, actor: str = "reconcile") -> dict[str, Reconciled]:
        """Reset the authorizations that mints which failed or died left at Telegram; see sessions/reconciliation.py."""
        return await sessions.reconcile_open_intents(self._ctx, actor=actor)

    async def cache_stats(self) -> CacheStats:
        return await sessions.cache_stats(self._ctx)

    async def repair_sessions(self, *, actor: str = DEFAULT_ACTOR) -> RepairReport:
        """Rewrite strings stored by 0.1 in the canonical form; see migration/repair.py."""
        return await migration.repair_sessions(self._ctx, actor=actor)

    async def run_maintenance(
        self, *, actor: str = "scheduler", progress: SweepProgress | None = None, page_size: int = 100
    ) -> MaintenanceReport:
        return await maintenance.run_maintenance(self._ctx, actor=actor, progress=progress, page_size=page_size)

    async def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[AccountSummary]:
        return await sessions.list_accounts(self._ctx, after=after, limit=limit)

    async def start_maintenance(
        self, *, actor: str = "scheduler", watch: Callable[[int, int, str], None] | None = None
    ) -> MaintenanceRun:
        """Start a maintenance run in the background (one at a time across instances, paced, resumable); returns it,
        running. ``watch(done, total, phone)`` follows its progress."""
        return await self._runner.start(actor, watch=watch)

    def now(self) -> datetime:
        """The factory's clock (the API's answers use it, so a test clock governs them too)."""
        return self._ctx.clock.now()

    @property
    def instance(self) -> str:
        """This instance's name on leases and maintenance runs (``MaintenanceRun.holder``)."""
        return self._runner.holder

    async def maintenance_run(self, run_id: int) -> MaintenanceRun:
        return await self._runner.get(run_id)

    async def latest_maintenance_run(self) -> MaintenanceRun | None:
        return await self._runner.latest()

    async def wait_for_maintenance(self) -> None:
        await self._runner.wait()

    async def drain(self) -> None:
        """Wait until background work (backup top-ups) has finished."""
        await self._ctx.drain()

    async def aclose(self) -> None:
        await self._runner.aclose()
        await self._ctx.aclose()
