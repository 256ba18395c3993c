"""Finishing what a crash left half-done: mint intents still open are reconciled (see reconciliation.py), account by
account under its lease. Run at start-up (in the background) and by maintenance."""

from __future__ import annotations

import logging

from tgsessions.domain.errors import TgSessionsError
from tgsessions.service.sessions.context import UseCaseContext
from tgsessions.service.sessions.reconciliation import Reconciled

log = logging.getLogger("tgsessions.reconcile")


async def reconcile_open_intents(ctx: UseCaseContext, *, actor: str) -> dict[str, Reconciled]:
    """Reconcile every account with an open login attempt; what one account cannot finish now stays open."""
    async with ctx.db.unit_of_work() as uow:
        phones = await uow.audit.phones_with_open_login_attempts()
    done: dict[str, Reconciled] = {}
    for phone in phones:
        try:
            async with ctx.working(phone, actor) as (work, lease):
                done[phone] = await ctx.minter.reconciler.reconcile(work, lease)
        except TgSessionsError as exc:
            log.info("reconciling %s: %s", phone, exc.code)
    if phones:
        revoked = sum(r.revoked for r in done.values())
        pending = sum(r.pending for r in done.values())
        log.info("reconciled %d accounts: %d orphan authorizations reset, %d pending", len(done), revoked, pending)
    return done
