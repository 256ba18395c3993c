"""Accounts as whole records — the shape the replaced service's callers read: the primary and backup strings (each
rendered in the layout it arrived in unless a format is asked for), recent history and the dates.

Strings are put in a record only when the caller may have them (``with_strings``), and every record that carries
them is audited with a ``handed_out`` event. Without strings a record still names its sessions by session_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tgsessions.domain.account_pool import AccountPool
from tgsessions.domain.errors import FormatUnavailable, UnknownPhone
from tgsessions.domain.model import Account, Action, Event, Session
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.ports import AccountStore, UnitOfWork
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.session_strings import render_stored
from tgsessions.service.sessions.context import UseCaseContext

HISTORY_IN_RECORD = 20


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: int
    phone: str
    primary_id: str | None
    backup_ids: list[str]
    primary: Secret | None = field(repr=False)  # None without strings (or without a primary)
    backups: list[Secret] = field(repr=False)  # empty without strings
    history: list[Event]
    last_updated: datetime | None
    last_cleanup: datetime | None
    created_at: datetime
    updated_at: datetime
    with_strings: bool  # whether primary and backups were asked for (a caller allowed to have them)


def _render(account: Account, session: Session, fmt: SessionFormat | None) -> Secret:
    assert session.string is not None
    try:
        return render_stored(session.string, session.source_format, fmt, user_id=account.user_id,
                             api_id=session.identity.api_id)  # fmt: skip
    except FormatUnavailable as exc:
        raise FormatUnavailable(exc.message, phone=account.phone) from None


def build_record(
    account: Account, sessions: Sequence[Session], history: list[Event], *, with_strings: bool,
    fmt: SessionFormat | None,
) -> AccountRecord:  # fmt: skip
    assert account.id is not None
    pool = AccountPool(sessions)
    primary = pool.primary if pool.primary is not None and pool.primary.string is not None else None
    backups = [s for s in pool.backups if s.string is not None]
    return AccountRecord(
        account_id=account.id,
        phone=account.phone,
        primary_id=primary.session_id if primary else None,
        backup_ids=[s.session_id for s in backups],
        primary=_render(account, primary, fmt) if with_strings and primary else None,
        backups=[_render(account, s, fmt) for s in backups] if with_strings else [],
        history=history,
        last_updated=account.last_updated,
        last_cleanup=account.last_cleanup,
        created_at=account.created_at,
        updated_at=account.updated_at,
        with_strings=with_strings,
    )


def handed_out(record: AccountRecord, actor: str, now: datetime, via: str) -> Event:
    return Event(record.account_id, Action.HANDED_OUT, actor, "ok", now, session_id=record.primary_id,
                 detail={"via": via, "strings": len(record.backups) + (record.primary is not None)})  # fmt: skip


async def _records(
    uow: UnitOfWork, accounts: Sequence[Account], *, with_strings: bool, fmt: SessionFormat | None
) -> list[AccountRecord]:
    found = []
    for account in accounts:
        assert account.id is not None
        sessions = await uow.sessions.sessions(account.id)
        history = await uow.audit.events(account.id, limit=HISTORY_IN_RECORD)
        found.append(build_record(account, sessions, history, with_strings=with_strings, fmt=fmt))
    return found


async def read_records(
    ctx: UseCaseContext, phones: Sequence[str] | None, *, with_strings: bool, fmt: SessionFormat | None, actor: str,
    via: str,
) -> list[AccountRecord]:  # fmt: skip
    """The records of ``phones`` (stored ones only, in the order given) or (None) of every account; audited when
    they carry strings."""
    async with ctx.db.unit_of_work() as uow:
        if phones is None:
            accounts = await _all_accounts(uow.accounts)
        else:
            by_phone = {a.phone: a for a in await uow.bulk.accounts_by_phone(list(phones))}
            accounts = [by_phone[p] for p in phones if p in by_phone]
        records = await _records(uow, accounts, with_strings=with_strings, fmt=fmt)
        if with_strings and records:  # audited in the same commit as the read
            now = ctx.clock.now()
            await uow.audit.append_events([handed_out(r, actor, now, via) for r in records])
            await uow.commit()
    return records


async def read_record(
    ctx: UseCaseContext, phone: object, *, with_strings: bool, fmt: SessionFormat | None, actor: str, via: str
) -> AccountRecord:
    """One account's record; UnknownPhone when it is not stored."""
    number = normalise_phone(phone)
    found = await read_records(ctx, [number], with_strings=with_strings, fmt=fmt, actor=actor, via=via)
    if not found:
        raise UnknownPhone(number)
    return found[0]


async def _all_accounts(repo: AccountStore, page: int = 500) -> list[Account]:

    found: list[Account] = []
    after: int | None = None
    while batch := await repo.accounts_page(after_id=after, limit=page):
        found += batch
        after = batch[-1].id
    return found
