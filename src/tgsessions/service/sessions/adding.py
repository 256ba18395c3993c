"""add_account and update_session: how sessions enter the service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from tgsessions.domain.errors import (
    AccountBanned,
    InvalidInput,
    SessionRejected,
    TelegramUnavailable,
    UnknownPhone,
)
from tgsessions.domain.model import Account, Action, ClientIdentity, Event, Origin, Proxy, Role, Session
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.ports import SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind
from tgsessions.service.results import SessionInfo
from tgsessions.service.session_strings import IncomingSession, read_session, session_id_for
from tgsessions.service.sessions.context import UseCaseContext, as_secret
from tgsessions.service.sessions.locked_account import LockedAccount


@dataclass(frozen=True, slots=True)
class AddedAccount:
    phone: str
    sessions: list[SessionInfo]


async def add_account(
    ctx: UseCaseContext,
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
    actor: str,
) -> AddedAccount:
    """Store a new account with its sessions as given (not validated: fetch and maintenance do that).

    Every string is read in any layout (or in ``fmt``) and stored in the canonical form. Backups are listed newest
    first; repeats (the same auth key in any layout), and backups equal to the primary or keeper, are dropped.
    """
    number = normalise_phone(phone)
    first = _incoming(primary, "session", fmt)
    keep = _incoming(keeper, "keeperSession", fmt)
    if first is None and keep is None:
        raise InvalidInput("an account needs a primary session or a keeper session", field="session")
    if first is not None and keep is not None and first.data.identity() == keep.data.identity():
        raise InvalidInput("the keeper must be a different session from the primary", field="keeperSession")
    seen = {s.data.identity() for s in (first, keep) if s is not None}
    pool: list[IncomingSession] = []
    for raw in backups:
        incoming = read_session(raw, field="backups", fmt=fmt)
        if incoming.data.identity() not in seen:
            seen.add(incoming.data.identity())
            pool.append(incoming)
    if len(pool) > ctx.options.max_backups:
        raise InvalidInput(f"at most {ctx.options.max_backups} backups, got {len(pool)}", field="backups")
    password = as_secret(two_fa, field="twoFactorPassword", password=True) if two_fa is not None else None
    now = ctx.clock.now()
    ident = identity or ctx.options.default_identity
    account = Account(number, ident, now, now, two_fa=password, proxy=proxy, last_updated=now if first else None)
    account.user_id = next((s.user_id for s in (first, keep, *pool) if s is not None and s.user_id), None)
    seeds: list[tuple[Role, IncomingSession | None]] = [(Role.PRIMARY, first), (Role.KEEPER, keep)]
    seeds += [(Role.BACKUP, s) for s in pool]
    added: list[Session] = []
    async with ctx.db.unit_of_work() as uow:
        stored = await uow.accounts.add_account(account)
        assert stored.id is not None
        for rank, (role, seed) in enumerate(seeds):
            if seed is None:
                continue
            session = Session(
                session_id=session_id_for(ctx.cipher, seed.data),
                account_id=stored.id,
                role=role,
                origin=origin,
                identity=ident,
                created_at=now,
                role_since=now - timedelta(microseconds=rank),  # keeps the given backup order
                string=seed.string,
                source_format=seed.format,
            )
            added.append(await uow.sessions.add_session(session))
        await uow.audit.append_event(
            Event(stored.id, Action.ACCOUNT_ADDED, actor, "ok", now, detail={"sessions": len(added)})
        )
        await uow.commit()
    return AddedAccount(number, [ctx.info(s) for s in added])


def _incoming(value: object, field: str, fmt: SessionFormat | None) -> IncomingSession | None:
    return read_session(value, field=field, fmt=fmt) if value is not None else None


async def _candidate(
    ctx: UseCaseContext, work: LockedAccount, incoming: IncomingSession, *, field: str, keeper_ok: bool
) -> tuple[Session, Session | None]:
    """The stored session behind ``secret`` (or a new, unsaved one), checked alive and of this phone now.

    Raises SessionRejected for a string of another account, a retired one, a keeper where none is wanted, a dead one
    or one of another phone; TelegramUnavailable when Telegram cannot tell now.
    """
    session_id = session_id_for(ctx.cipher, incoming.data)
    async with ctx.db.unit_of_work() as uow:
        existing = await uow.sessions.find_session(session_id)
    now = ctx.clock.now()
    number = work.phone
    if existing is not None:
        if existing.account_id != work.account_id:
            raise SessionRejected("this session is stored for another account", field=field)
        if existing.role is Role.RETIRED:
            raise SessionRejected("this session was retired (dead or revoked)", field=field)
        if existing.role is Role.QUARANTINED:
            raise SessionRejected("this session is quarantined; an operator must release it first", field=field)
        if existing.role is Role.KEEPER and not keeper_ok:
            raise SessionRejected("this is the account's keeper session, never handed out", field=field)
        held = work.pool.find(session_id)
        assert held is not None  # stored for this account and not retired: loaded into its pool
        candidate = held
    else:
        candidate = Session(
            session_id, work.account_id, Role.BACKUP, Origin.MANUAL, work.account.identity, now, now,
            string=incoming.string, source_format=incoming.format,
        )  # fmt: skip
    if incoming.user_id is not None and work.account.user_id is None:
        work.account.user_id = incoming.user_id
        work.touch_account()
    verdict = await ctx.checks.check(work, candidate, use_cache=False)
    if verdict.kind is VerdictKind.UNKNOWN:
        raise ctx.checks.unavailable(work, [verdict])
    if not verdict.is_alive:
        if existing is not None:
            work.retire(candidate, now, verdict.reason)
        raise _rejection(verdict.reason, number, field)
    return candidate, existing


def _rejection(reason: str, number: str, field: str) -> SessionRejected:
    if reason == Reason.PHONE_MISMATCH:
        return SessionRejected(f"the session belongs to another phone number, not {number}", field=field, phone=number)
    return SessionRejected(f"the session is dead ({reason})", field=field, phone=number)


def _step_aside(ctx: UseCaseContext, work: LockedAccount, old: Session, verdict: Verdict) -> None:
    """A session replaced in its role becomes the newest backup, unless it is dead (then it is retired)."""
    now = ctx.clock.now()
    if verdict.kind is VerdictKind.DEAD:
        work.retire(old, now, verdict.reason)
    else:
        work.pool.step_aside(old, now)
        work.touch(old)


async def update_session(
    ctx: UseCaseContext, phone: object, new_session: object, *, actor: str, fmt: SessionFormat | None = None
) -> SessionInfo:
    """Make ``new_session`` the primary. It must be alive and belong to this phone; the old primary, unless dead,
    becomes the newest backup. Backups beyond ``max_backups`` are revoked and retired."""
    number = normalise_phone(phone)
    incoming = read_session(new_session, field="newSession", fmt=fmt)
    async with ctx.working(number, actor) as (work, _lease):
        candidate, existing = await _candidate(ctx, work, incoming, field="newSession", keeper_ok=False)
        now = ctx.clock.now()
        old = work.pool.primary
        if old is candidate:
            return ctx.info(candidate)
        if old is not None:
            _step_aside(ctx, work, old, await ctx.checks.check(work, old))
        if existing is None:
            work.add(candidate)
        work.pool.assign(candidate, Role.PRIMARY, now)
        work.touch(candidate)
        ctx.checks.primary_changed(work)
        work.event(Action.UPDATED, now, session=candidate, previous=old.session_id if old else None)
        await ctx.cleanup.enforce_limit(work)
        return ctx.info(candidate)


async def add_session(
    ctx: UseCaseContext,
    phone: object,
    string: object,
    *,
    role: Role,
    two_fa: object = None,
    actor: str,
    fmt: SessionFormat | None = None,
) -> SessionInfo:
    """Add a live session of ``phone`` as its keeper or as its newest backup (onboarding, imports).

    The string must be alive and belong to the phone. A new keeper replaces the old one, which becomes the newest
    backup unless dead. An unknown phone gets a new account when the session is its keeper. ``two_fa`` stores the
    account's 2FA password too.
    """
    if role not in (Role.KEEPER, Role.BACKUP):
        raise InvalidInput("a session can be added as keeper or backup (use update for the primary)", field="role")
    number = normalise_phone(phone)
    incoming = string if isinstance(string, IncomingSession) else read_session(string, field="session", fmt=fmt)
    password = as_secret(two_fa, field="twoFactorPassword", password=True) if two_fa is not None else None
    async with ctx.db.unit_of_work() as uow:
        known = await uow.accounts.get_account(number) is not None
    if not known:
        if role is not Role.KEEPER:
            raise UnknownPhone(number)
        await _check_unstored(ctx, number, incoming.string)
        added = await add_account(ctx, number, keeper=incoming, two_fa=password, actor=actor)
        return added.sessions[0]
    async with ctx.working(number, actor) as (work, _lease):
        candidate, existing = await _candidate(ctx, work, incoming, field="session", keeper_ok=True)
        now = ctx.clock.now()
        if role is Role.KEEPER and candidate.role is not Role.KEEPER:
            old = work.pool.keeper
            if old is not None:
                _step_aside(ctx, work, old, await ctx.checks.check(work, old))
        elif role is Role.BACKUP and candidate.role is not Role.BACKUP:
            raise SessionRejected(f"this session is already the account's {candidate.role.value}", field="session")
        if existing is None:
            work.add(candidate)
        work.pool.assign(candidate, role, now)
        work.touch(candidate)
        if password is not None:
            work.account.two_fa = password
            work.touch_account()
        work.event(Action.UPDATED, now, session=candidate, role=role.value)
        await ctx.cleanup.enforce_limit(work)
        return ctx.info(candidate)


async def _check_unstored(ctx: UseCaseContext, number: str, secret: Secret) -> None:
    """Validate a session of a phone that has no account yet (one bounded call, nothing recorded)."""
    access = SessionAccess(secret, number, ctx.options.default_identity)
    try:
        async with asyncio.timeout(ctx.options.validation_timeout):
            verdict = await ctx.gateway.validate(access)
    except TimeoutError:
        raise TelegramUnavailable(
            f"Telegram did not answer for {number} in time", retry_after=30, phone=number
        ) from None
    if verdict.kind is VerdictKind.UNKNOWN:
        raise TelegramUnavailable(f"Telegram could not confirm the session of {number} now ({verdict.reason})",
                                  retry_after=verdict.retry_after or 30, phone=number)  # fmt: skip
    if verdict.kind is VerdictKind.ACCOUNT_DEAD:
        raise AccountBanned(number, verdict.reason)
    if not verdict.is_alive:
        raise _rejection(verdict.reason, number, "session")
