"""Ensuring a live primary, in the order design.md gives: the primary if alive, else the newest live backup
promoted, else a session minted from a live one (the keeper first, then the oldest mature session).

Dead sessions met on the way are retired; an unknown verdict changes nothing (TelegramUnavailable when nothing live
was found and some verdicts were unknown); no live session at all marks the account unrecoverable.
"""

from __future__ import annotations

from tgsessions.domain.errors import AccountUnrecoverable
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.domain.model import AccountState, Action, Role, Session
from tgsessions.domain.ports import Clock, Lease
from tgsessions.domain.verdict import Verdict, VerdictKind
from tgsessions.service.sessions.checks import SessionChecks
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.minting import Minter


class Promotion:
    def __init__(self, checks: SessionChecks, minter: Minter, clock: Clock, *, metrics: Metrics | None = None) -> None:
        self._checks = checks
        self._minter = minter
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    async def ensure_primary(self, work: LockedAccount, lease: Lease) -> tuple[Session, str]:
        """A live primary and how it was obtained: "cached", "validated", "promoted" or "minted"."""
        checks = self._checks
        checks.refuse_banned(work)
        primary = work.pool.primary
        if primary is not None:
            checked = await checks.inspect(work, primary)
            if checked.verdict.is_alive:
                return primary, "cached" if checked.from_cache else "validated"
            if checked.verdict.kind is VerdictKind.UNKNOWN:
                raise checks.unavailable(work, [checked.verdict])
            work.retire(primary, self._clock.now(), checked.verdict.reason)
        unknown: list[Verdict] = []
        for backup in work.pool.backups:
            verdict = await checks.check(work, backup)
            if verdict.is_alive:
                self.promote(work, backup)
                return backup, "promoted"
            if verdict.kind is VerdictKind.UNKNOWN:
                unknown.append(verdict)
            else:
                work.retire(backup, self._clock.now(), verdict.reason)
        tried = frozenset(s.session_id for s in work.pool.backups)
        source = await self.mint_source(work, handed_out=None, unknown=unknown, checked=tried)
        if source is not None:
            minted = await self._minter.mint(work, source, role=Role.PRIMARY, fence=lease)
            checks.primary_changed(work)
            return minted, "minted"
        if unknown:
            raise checks.unavailable(work, unknown)
        checks.mark(work, AccountState.UNRECOVERABLE, reason="no_live_session")
        raise AccountUnrecoverable(work.phone)

    async def mint_source(
        self,
        work: LockedAccount,
        *,
        handed_out: str | None,
        unknown: list[Verdict] | None = None,
        checked: frozenset[str] = frozenset(),
    ) -> Session | None:
        """The first live session of the pool's mint sources (keeper, then oldest mature), validated lazily.

        Sessions in ``checked`` were found not alive moments ago and are not asked again.
        """
        now = self._clock.now()
        for session in work.pool.mint_sources(now, handed_out=handed_out):
            if session.session_id in checked:
                continue
            verdict = await self._checks.check(work, session)
            if verdict.is_alive:
                return session
            if verdict.kind is VerdictKind.UNKNOWN:
                if unknown is not None:
                    unknown.append(verdict)
            else:
                work.retire(session, now, verdict.reason)
        return None

    def promote(self, work: LockedAccount, backup: Session) -> None:
        now = self._clock.now()
        work.pool.promote(backup, now)
        work.touch(backup)
        work.event(Action.PROMOTED, now, session=backup)
        self._metrics.promoted()
        self._checks.primary_changed(work)
