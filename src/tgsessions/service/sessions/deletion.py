"""Deleting an account (DELETE /archived-clients/{mobile} of the replaced service's API).

Nothing Telegram knows about is left unaccounted for: with ``revoke`` every session whose string the service holds
is terminated at Telegram first, and each termination is written (retired, ``revoked`` event) before the next
step; if Telegram cannot terminate one now, nothing is deleted and the call fails (retry it: the ones already
terminated stay so). Then, in one transaction under the phone's lease, the account, its sessions and its history
go and an ``account_deletions`` row keeps who deleted it, when, and which session_ids went away.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tgsessions.domain.errors import AccountBanned, TelegramUnavailable, TgSessionsError, UnknownPhone
from tgsessions.domain.model import AccountDeletion
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.ports import Lease
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.sessions.context import UseCaseContext
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.records import HISTORY_IN_RECORD, AccountRecord, build_record, handed_out


@dataclass(frozen=True, slots=True)
class DeletedAccount:
    record: AccountRecord  # as it was just before the deletion
    session_ids: list[str]
    revoked: list[str]


async def delete_account(
    ctx: UseCaseContext, phone: object, *, revoke: bool, with_strings: bool, fmt: SessionFormat | None, actor: str
) -> DeletedAccount:
    number = normalise_phone(phone)
    async with ctx.locks.hold(number) as hold:
        try:
            work = await LockedAccount.load(ctx.db, number, actor)
        except UnknownPhone:
            await ctx.db.leases.forget(hold.lease)
            hold.released = True
            raise
        async with ctx.db.unit_of_work() as uow:
            history = await uow.audit.events(work.account_id, limit=HISTORY_IN_RECORD)
        record = build_record(work.account, work.pool.sessions, history, with_strings=with_strings, fmt=fmt)
        held = [s.session_id for s in work.pool.sessions]
        revoked = await _revoke_all(ctx, work, hold.lease) if revoke else []
        now = ctx.clock.now()
        deletion = AccountDeletion(number, work.account_id, now, actor, tuple(held), tuple(revoked))
        async with ctx.db.unit_of_work(fence=hold.lease) as uow:
            if with_strings:
                await uow.audit.append_event(handed_out(record, actor, now, "delete"))  # gone with the rest
            await uow.accounts.delete_account(deletion)
            await uow.commit()
        await ctx.db.leases.forget(hold.lease)
        hold.released = True
    ctx.primary_hints.forget(number)
    return DeletedAccount(record, held, revoked)


async def _revoke_all(ctx: UseCaseContext, work: LockedAccount, lease: Lease) -> list[str]:
    """Terminate at Telegram every session whose string is held (quarantined ones cannot be used: skipped), each
    recorded durably as soon as Telegram confirmed it. A banned or deactivated account has no live session left."""
    revoked: list[str] = []
    failed = 0
    for session in work.pool.usable:
        try:
            async with asyncio.timeout(ctx.options.revoke_timeout):
                await ctx.gateway.log_out(work.access(session))
        except AccountBanned:
            pass  # Telegram's answer: the account, and so every session of it, is dead
        except (TimeoutError, TgSessionsError):
            failed += 1
            continue
        work.retire(session, ctx.clock.now(), "revoked")
        revoked.append(session.session_id)
        await work.flush(ctx.db, lease, now=ctx.clock.now())
    if failed:
        raise TelegramUnavailable(
            f"Telegram did not terminate {failed} of the account's sessions now; nothing was deleted "
            f"({len(revoked)} terminated so far): retry",
            retry_after=30.0,
            phone=work.phone,
        )
    return revoked
