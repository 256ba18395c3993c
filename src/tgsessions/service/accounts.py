"""add_account and update_session: how sessions enter the service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from tgsessions.domain.errors import InvalidInput, SessionRejected
from tgsessions.domain.model import Account, Action, ClientIdentity, Event, Origin, Proxy, Role, Session
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason, VerdictKind
from tgsessions.service.core import FactoryCore, as_secret
from tgsessions.service.results import SessionInfo


@dataclass(frozen=True, slots=True)
class AddedAccount:
    phone: str
    sessions: list[SessionInfo]


async def add_account(
    core: FactoryCore,
    phone: object,
    *,
    primary: object = None,
    keeper: object = None,
    backups: Sequence[object] = (),
    two_fa: object = None,
    identity: ClientIdentity | None = None,
    proxy: Proxy | None = None,
    origin: Origin = Origin.MANUAL,
    actor: str,
) -> AddedAccount:
    """Store a new account with its sessions as given (not validated: fetch and maintenance do that).

    Backups are listed newest first; repeats, and backups equal to the primary or keeper, are dropped.
    """
    number = normalise_phone(phone)
    first = as_secret(primary, field="session") if primary is not None else None
    keep = as_secret(keeper, field="keeperSession") if keeper is not None else None
    if first is None and keep is None:
        raise InvalidInput("an account needs a primary session or a keeper session", field="session")
    if first is not None and first == keep:
        raise InvalidInput("the keeper must be a different session from the primary", field="keeperSession")
    pool: list[Secret] = []
    for raw in backups:
        secret = as_secret(raw, field="backups")
        if secret not in pool and secret != first and secret != keep:
            pool.append(secret)
    if len(pool) > core.options.max_backups:
        raise InvalidInput(f"at most {core.options.max_backups} backups, got {len(pool)}", field="backups")
    password = as_secret(two_fa, field="twoFactorPassword", password=True) if two_fa is not None else None
    now = core.clock.now()
    ident = identity or core.options.default_identity
    account = Account(number, ident, now, now, two_fa=password, proxy=proxy, last_updated=now if first else None)
    seeds: list[tuple[Role, Secret | None]] = [(Role.PRIMARY, first), (Role.KEEPER, keep)]
    seeds += [(Role.BACKUP, s) for s in pool]
    added: list[Session] = []
    async with core.db.unit_of_work() as uow:
        stored = await uow.accounts.add_account(account)
        assert stored.id is not None
        for rank, (role, seed) in enumerate(seeds):
            if seed is None:
                continue
            session = Session(
                session_id=core.cipher.fingerprint(seed.reveal()),
                account_id=stored.id,
                role=role,
                origin=origin,
                identity=ident,
                created_at=now,
                role_since=now - timedelta(microseconds=rank),  # keeps the given backup order
                string=seed,
            )
            added.append(await uow.accounts.add_session(session))
        await uow.accounts.append_event(
            Event(stored.id, Action.ACCOUNT_ADDED, actor, "ok", now, detail={"sessions": len(added)})
        )
        await uow.commit()
    return AddedAccount(number, [core.info(s) for s in added])


async def update_session(core: FactoryCore, phone: object, new_session: object, *, actor: str) -> SessionInfo:
    """Make ``new_session`` the primary. It must be alive and belong to this phone; the old primary, unless dead,
    becomes the newest backup. Backups beyond ``max_backups`` are revoked and retired."""
    number = normalise_phone(phone)
    secret = as_secret(new_session, field="newSession")
    session_id = core.cipher.fingerprint(secret.reveal())
    recovery = core.recovery
    async with core.working(number, actor) as (work, _lease):
        async with core.db.unit_of_work() as uow:
            existing = await uow.accounts.find_session(session_id)
        now = core.clock.now()
        if existing is not None:
            if existing.account_id != work.account_id:
                raise SessionRejected("this session is stored for another account", field="newSession")
            if existing.role is Role.RETIRED:
                raise SessionRejected("this session was retired (dead or revoked)", field="newSession")
            if existing.role is Role.KEEPER:
                raise SessionRejected("this is the account's keeper session, never handed out", field="newSession")
            candidate = next(s for s in work.sessions if s.session_id == session_id)
        else:
            candidate = Session(
                session_id, work.account_id, Role.BACKUP, Origin.MANUAL, work.account.identity, now, now, string=secret
            )
        verdict = await recovery.check(work, candidate, use_cache=False)
        if verdict.kind is VerdictKind.UNKNOWN:
            raise recovery.unavailable(work, [verdict])
        if not verdict.is_alive:
            if existing is not None:
                work.retire(candidate, now, verdict.reason)
            if verdict.reason == Reason.PHONE_MISMATCH:
                raise SessionRejected(
                    f"the session belongs to another phone number, not {number}", field="newSession", phone=number
                )
            raise SessionRejected(f"the session is dead ({verdict.reason})", field="newSession", phone=number)
        old = work.primary
        if old is candidate:
            return core.info(candidate)
        if old is not None:
            old_verdict = await recovery.check(work, old)
            if old_verdict.kind is VerdictKind.DEAD:
                work.retire(old, now, old_verdict.reason)
            else:
                old.role, old.role_since = Role.BACKUP, now
                work.touch(old)
        candidate.role, candidate.role_since = Role.PRIMARY, now
        if existing is None:
            work.add(candidate)
        else:
            work.touch(candidate)
        recovery.primary_changed(work)
        work.event(Action.UPDATED, now, session=candidate, previous=old.session_id if old else None)
        await recovery.enforce_limit(work)
        return core.info(candidate)
