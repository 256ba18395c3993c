"""Export to the replaced service's shape: one ``archivedClients`` document per account (and optionally ``users``).

``session`` is the primary, ``oldSessions`` the backups newest first, ``sessionHistory`` the events imported from
the replaced service, plus ``createdAt``/``updatedAt``/``lastUpdated``/``lastCleanup``. The ``users`` documents carry
the keeper (``session``) and the 2FA password (``password``). Session strings and passwords are written only with
``include_secrets``; otherwise ``session``/``oldSessions`` carry session_ids, no password is written, and every
document is marked so that importing it is refused. Every exported account gets an ``exported`` audit event (in
batches, after its documents were written), saying whether secrets were included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tgsessions.domain.errors import FormatUnavailable
from tgsessions.domain.model import Account, Action, Event, Role, Session
from tgsessions.domain.ports import AuditLog, Clock, Database
from tgsessions.domain.session_codec import SessionFormat
from tgsessions.service.migration.source_records import REDACTED_MARK
from tgsessions.service.session_strings import render_stored

Write = Callable[[dict[str, object]], None]


@dataclass(slots=True)
class ExportReport:
    include_secrets: bool
    accounts: int = 0
    sessions: int = 0
    users: int = 0


async def _imported_history(repo: AuditLog, account_id: int) -> list[Event]:
    found: list[Event] = []
    before: int | None = None
    while page := await repo.events(account_id, limit=500, before_id=before):
        found += [event for event in page if event.action is Action.IMPORTED]
        before = page[-1].id
    found.reverse()
    return found


def _value(account: Account, session: Session, include_secrets: bool, fmt: SessionFormat | None) -> str:
    """The session string in ``fmt`` (None: the layout it arrived in), or its session_id without secrets."""
    if include_secrets and session.string is not None:
        try:
            return render_stored(session.string, session.source_format, fmt, user_id=account.user_id,
                                 api_id=session.identity.api_id).reveal()  # fmt: skip
        except FormatUnavailable as exc:
            raise FormatUnavailable(f"account {account.phone}: {exc.message}", phone=account.phone) from None
    return session.session_id


def archived_client_document(
    account: Account,
    sessions: list[Session],
    history: list[Event],
    *,
    include_secrets: bool,
    fmt: SessionFormat | None = None,
) -> dict[str, object]:
    document: dict[str, object] = {"mobile": account.phone}
    primary = next((s for s in sessions if s.role is Role.PRIMARY), None)
    if primary is not None:
        document["session"] = _value(account, primary, include_secrets, fmt)
    document["oldSessions"] = [_value(account, s, include_secrets, fmt) for s in sessions if s.role is Role.BACKUP]
    if history:
        document["sessionHistory"] = [{"date": e.at, "description": e.detail.get("description")} for e in history]
    dates: tuple[tuple[str, datetime | None], ...] = (
        ("lastUpdated", account.last_updated),
        ("lastCleanup", account.last_cleanup),
        ("createdAt", account.created_at),
        ("updatedAt", account.updated_at),
    )
    document.update((name, value) for name, value in dates if value is not None)
    if not include_secrets:
        document[REDACTED_MARK] = True
    return document


def user_document(
    account: Account, keeper: Session | None, *, include_secrets: bool, fmt: SessionFormat | None = None
) -> dict[str, object] | None:
    if keeper is None and account.two_fa is None:
        return None
    document: dict[str, object] = {"mobile": account.phone}
    if keeper is not None:
        document["session"] = _value(account, keeper, include_secrets, fmt)
    if include_secrets and account.two_fa is not None:
        document["password"] = account.two_fa.reveal()
    if not include_secrets:
        document[REDACTED_MARK] = True
    return document


async def export_accounts(
    db: Database,
    clock: Clock,
    *,
    write: Write,
    write_user: Write | None = None,
    include_secrets: bool = False,
    session_format: SessionFormat | None = None,
    actor: str,
    page_size: int = 500,
    progress: Callable[[ExportReport], None] | None = None,
) -> ExportReport:
    """Write every account (ordered by id, one page at a time) through ``write`` (and ``write_user``). Strings are
    written in ``session_format``, or (None) each in the layout it arrived in (minted ones as GramJS)."""
    report = ExportReport(include_secrets)
    after: int | None = None
    while True:
        async with db.unit_of_work() as uow:
            page = await uow.accounts.accounts_page(after_id=after, limit=page_size)
            rows = []
            for account in page:
                assert account.id is not None
                sessions = await uow.sessions.sessions(account.id)
                rows.append((account, sessions, await _imported_history(uow.audit, account.id)))

        if not page:
            return report
        for account, sessions, history in rows:
            write(archived_client_document(account, sessions, history, include_secrets=include_secrets,
                                           fmt=session_format))  # fmt: skip
            report.sessions += sum(1 for s in sessions if s.role in (Role.PRIMARY, Role.BACKUP))
            if write_user is not None:
                keeper = next((s for s in sessions if s.role is Role.KEEPER), None)
                user = user_document(account, keeper, include_secrets=include_secrets, fmt=session_format)
                if user is not None:
                    write_user(user)
                    report.users += 1
        now = clock.now()
        events = [
            Event(account.id, Action.EXPORTED, actor, "ok", now, detail={"secrets": include_secrets})
            for account, _sessions, _history in rows
            if account.id is not None
        ]
        async with db.unit_of_work() as uow:
            await uow.audit.append_events(events)
            await uow.commit()
        report.accounts += len(rows)
        after = page[-1].id
        if progress is not None:
            progress(report)
