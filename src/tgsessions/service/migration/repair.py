"""``repair-sessions``: rewrite strings stored by tgsessions 0.1 in the canonical form, with their true identity.

0.1 stored every submitted string verbatim, as if it were Telethon's, and named it by a fingerprint of its text.
The replaced service's data is GramJS, so such rows hold GramJS text. The repair visits every session whose
``source_format`` is unset (and every quarantined one) and, for each string the codec can read:

* stores the canonical text and the layout it was found in, under the auth-key identity (``session_id`` changes;
  the ciphertext is re-encrypted, since the id is part of its associated data);
* releases a session quarantined as malformed back to the backups (its string was fine: our reading was not).

A string the codec cannot read is left exactly as it is and counted; nothing is ever wiped or deleted. A string
whose auth key is already stored under another row is left as it is and counted as a duplicate. Idempotent: a second
run finds nothing to do. Each account is repaired in its own unit of work, under its phone's lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tgsessions.domain.model import Action, Role, Session
from tgsessions.domain.session_codec import parse
from tgsessions.domain.verdict import Reason
from tgsessions.service.session_strings import canonical_text, session_id_for, stored_data
from tgsessions.service.sessions import LockedAccount, UseCaseContext


@dataclass(slots=True)
class RepairReport:
    accounts: int = 0
    sessions_seen: int = 0
    converted: dict[str, int] = field(default_factory=dict)  # rewritten, by the layout they were found in
    released: int = 0  # quarantined as malformed, readable after all: back among the backups
    unreadable: int = 0  # left as they are (quarantined when next checked)
    duplicates: int = 0  # an auth key already stored under another row: left as it is
    changed_phones: list[str] = field(default_factory=list)


def _needs_repair(session: Session) -> bool:
    return session.string is not None and (session.source_format is None or session.role is Role.QUARANTINED)


async def repair_sessions(ctx: UseCaseContext, *, actor: str, page_size: int = 200) -> RepairReport:
    report = RepairReport()
    after: int | None = None
    while True:
        async with ctx.db.unit_of_work() as uow:
            page = await uow.accounts.accounts_page(after_id=after, limit=page_size)
        if not page:
            return report
        after = page[-1].id
        for account in page:
            report.accounts += 1
            async with ctx.working(account.phone, actor) as (work, _lease):
                changed = False
                for session in list(work.pool.sessions):
                    if not _needs_repair(session):
                        continue
                    report.sessions_seen += 1
                    changed |= await _repair_one(ctx, work, session, report)
                if changed:
                    report.changed_phones.append(account.phone)


async def _repair_one(ctx: UseCaseContext, work: LockedAccount, session: Session, report: RepairReport) -> bool:
    assert session.string is not None
    data = stored_data(session.string)
    if data is None:
        report.unreadable += 1
        return False
    found = parse(session.string.reveal()).format
    new_id = session_id_for(ctx.cipher, data)
    if new_id != session.session_id:
        async with ctx.db.unit_of_work() as uow:
            other = await uow.sessions.find_session(new_id)
        if other is not None:
            report.duplicates += 1
            return False
    now = ctx.clock.now()
    old_id = session.session_id
    session.session_id = new_id
    session.string = canonical_text(session.string)
    session.source_format = found
    released = session.role is Role.QUARANTINED and session.verdict_reason == Reason.MALFORMED
    if released:
        session.role, session.role_since = Role.BACKUP, now
        session.verdict = session.verdict_reason = session.verdict_at = None
        report.released += 1
    work.touch(session)
    await ctx.cache.invalidate(old_id)
    work.event(Action.REPAIRED, now, session=session, previous=old_id, found=found.value, released=released)
    report.converted[found.value] = report.converted.get(found.value, 0) + 1
    return True
