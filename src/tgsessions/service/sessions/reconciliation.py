"""Reconciliation: no authorization the service made is left at Telegram without the service holding it.

Every login attempt is written down before Telegram is asked (a mint *intent*); a ``reconciled`` event closes every
attempt before it. An attempt stays open when its mint failed, timed out, was cancelled or its process died — any
of which can leave a new authorization behind (a password-pending one when the 2FA step failed). Reconciling lists
the account's authorizations through a live session and resets (``account.resetAuthorization``, from a session
older than 24 h) each one that

* was created under the account's client identity (device model and app version),
* within the time an open attempt could have created it (from just before it to the longest a mint may take),
* and is not held: not the listing session itself, no stored session's known hash, and not current for any stored
  session whose hash is unknown (each of those lists the account once more).

Each reset is audited (``revoked``, reason ``orphan_authorization``). When every candidate is gone the attempts are
closed (``reconciled``); when none of the account's sessions is old enough to reset others, or Telegram does not
answer, they stay open and the next reconciliation (after the next failed mint, at start-up, in maintenance)
tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tgsessions.domain.errors import AccountBanned, MintFailed, TgSessionsError
from tgsessions.domain.model import Action, Session
from tgsessions.domain.ports import Authorization, Clock, Database, Lease, TelegramGateway
from tgsessions.service.options import FactoryOptions
from tgsessions.service.sessions.locked_account import LockedAccount

log = logging.getLogger("tgsessions.reconcile")

SKEW = timedelta(seconds=5)  # clocks of Telegram and of this host differ a little
FRESH = "fresh_reset_forbidden"  # Telegram: this session is younger than 24 h and may not reset others


@dataclass(frozen=True, slots=True)
class Reconciled:
    open_attempts: int
    revoked: int = 0
    pending: int = 0  # orphans found that could not be reset yet (no session older than 24 h, Telegram busy)
    closed: bool = False


class Reconciler:
    def __init__(self, db: Database, gateway: TelegramGateway, clock: Clock, options: FactoryOptions) -> None:
        self._db = db
        self._gateway = gateway
        self._clock = clock
        self._options = options

    def _longest_mint(self) -> timedelta:
        return timedelta(seconds=self._options.mint_timeout + 5) + SKEW

    async def reconcile(self, work: LockedAccount, fence: Lease) -> Reconciled:
        """Reset the authorizations the account's open login attempts left behind; close them when none is left."""
        async with self._db.unit_of_work() as uow:
            attempts = await uow.audit.open_login_attempts(work.account_id)
        if not attempts:
            return Reconciled(0, closed=True)
        try:
            orphans, sources = await self._orphans(work, attempts)
        except (TimeoutError, TgSessionsError) as exc:
            log.info("reconciling %s: could not list authorizations (%s)", work.phone, type(exc).__name__)
            return Reconciled(len(attempts))
        revoked = 0
        for orphan in orphans:
            if await self._reset(work, sources, orphan, fence):
                revoked += 1
        pending = len(orphans) - revoked
        if pending == 0:
            work.event(Action.RECONCILED, self._clock.now(), attempts=len(attempts), revoked=revoked)
        await work.flush(self._db, fence, now=self._clock.now())
        return Reconciled(len(attempts), revoked, pending, closed=pending == 0)

    async def _orphans(
        self, work: LockedAccount, attempts: Sequence[datetime]
    ) -> tuple[list[Authorization], list[Session]]:
        """The unheld authorizations of ours, and the sessions to reset them from, likeliest first (the keeper, then
        the oldest: Telegram lets only a session older than 24 h reset others, and says so if one is younger)."""
        now = self._clock.now()
        live = work.pool.usable
        order = work.pool.mint_sources(now)
        lister = order[0] if order else (live[0] if live else None)
        if lister is None:
            return [], []
        listed = await self._list(work, lister)
        held = {s.auth_hash for s in live if s.auth_hash}
        identity = work.account.identity
        longest = self._longest_mint()
        candidates = [
            a for a in listed
            if not a.current and a.hash not in held and a.device_model == identity.device_model
            and a.app_version == identity.app_version
            and any(at - SKEW <= a.created_at <= at + longest for at in attempts)
        ]  # fmt: skip
        unknown = [s for s in live if s.auth_hash is None and s is not lister]
        for session in unknown:  # a stored session whose hash is unknown: its own listing shows it as current
            if not candidates:
                break
            seen_by_it = {a.hash for a in await self._list(work, session) if not a.current}
            candidates = [a for a in candidates if a.hash in seen_by_it]
        sources = order + sorted((s for s in live if s not in order), key=lambda s: s.created_at)
        return candidates, sources

    async def _list(self, work: LockedAccount, session: Session) -> Sequence[Authorization]:
        async with asyncio.timeout(self._options.validation_timeout):
            return await self._gateway.authorizations(work.access(session))

    async def _reset(
        self, work: LockedAccount, sources: Sequence[Session], orphan: Authorization, fence: Lease
    ) -> bool:
        for source in sources:
            try:
                async with asyncio.timeout(self._options.revoke_timeout):
                    await self._gateway.revoke_other(work.access(source), orphan.hash)
            except AccountBanned:
                raise
            except MintFailed as exc:
                if exc.reason == FRESH:
                    continue  # too young to reset others: the next, older one may
                log.info("reconciling %s: could not reset an authorization (%s)", work.phone, exc.reason)
                return False
            except (TimeoutError, TgSessionsError) as exc:
                log.info("reconciling %s: could not reset an authorization (%s)", work.phone, type(exc).__name__)
                return False
            self._audit(work, source, orphan)
            await work.flush(self._db, fence, now=self._clock.now())  # each reset written as it is confirmed
            return True
        return False

    def _audit(self, work: LockedAccount, source: Session, orphan: Authorization) -> None:
        work.event(Action.REVOKED, self._clock.now(), session=source, reason="orphan_authorization",
                   device=orphan.device_model, pending_password=orphan.password_pending)  # fmt: skip
