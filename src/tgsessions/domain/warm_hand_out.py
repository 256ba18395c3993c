"""The warm hand-out: the one storage operation of a warm fetch, in one transaction and (on SQL) one round trip.

A warm fetch already knows, from this process's memory, which session it expects to be the phone's primary (its
``hint``) and that its verdict is cached alive. What storage must still do, atomically: read the account and its
primary, and write the ``handed_out`` row if and only if that primary is still the one expected and may be handed
out (:func:`may_hand_out`). The string is returned only when that row is committed (fail closed).

What comes back is a read model, :class:`WarmRow`: the few columns a hand-out shows, nothing else. The account's
2FA password and proxy are not read at all, and the primary's string is decrypted only when it is handed out.

:class:`WarmHandOut` is that operation for a batch of phones (concurrent callers share it); the SQL adapter does it
in a single driver round trip per batch, the in-memory fake in one unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from tgsessions.domain.model import Account, AccountState, Action, Event, Origin, Role, Session
from tgsessions.domain.secret import Secret

if TYPE_CHECKING:
    from tgsessions.domain.storage import UnitOfWork

CACHED = {"how": "cached"}  # the detail of a warm hand-out's event
BANNED = (AccountState.BANNED, AccountState.DEACTIVATED)


@dataclass(frozen=True, slots=True)
class WarmRequest:
    phone: str  # normalised
    hint: str  # the session_id the caller expects to be the primary
    actor: str


@dataclass(frozen=True, slots=True)
class WarmPrimary:
    session_id: str
    role: Role
    origin: Origin
    api_id: int | None
    has_string: bool
    open_until: datetime | None
    string: Secret | None = None  # decrypted only when the row was handed out

    def breaker_open(self, now: datetime) -> bool:
        return self.open_until is not None and self.open_until > now


@dataclass(frozen=True, slots=True)
class WarmRow:
    """One account as a warm hand-out reads it."""

    account_id: int
    phone: str
    state: AccountState
    frozen: bool
    created_at: datetime
    updated_at: datetime
    last_updated: datetime | None
    user_id: int | None
    primary: WarmPrimary | None

    @property
    def is_banned(self) -> bool:
        return self.state in BANNED

    @classmethod
    def of(cls, account: Account, primary: Session | None, *, reveal: bool) -> WarmRow:
        """The read model of a stored account and primary (the fake's way; ``reveal``: keep the string)."""
        assert account.id is not None
        warm = None
        if primary is not None:
            string = primary.string if reveal else None
            warm = WarmPrimary(primary.session_id, primary.role, primary.origin, primary.identity.api_id,
                               primary.string is not None, primary.open_until, string)  # fmt: skip
        return cls(account.id, account.phone, account.state, account.frozen, account.created_at, account.updated_at,
                   account.last_updated, account.user_id, warm)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WarmAnswer:
    """What storage found for one request (None: no such phone), and whether its ``handed_out`` row was written
    (then: committed, and ``found.primary.string`` holds the string)."""

    found: WarmRow | None
    audited: bool


def may_hand_out(row: WarmRow, hint: str, now: datetime) -> bool:
    """The account is not banned, and its primary is ``hint``, still holds its string and has no open breaker."""
    primary = row.primary
    return (
        not row.is_banned
        and primary is not None
        and primary.session_id == hint
        and primary.has_string
        and not primary.breaker_open(now)
    )


def hand_out_event(account_id: int, request: WarmRequest, now: datetime) -> Event:
    return Event(account_id, Action.HANDED_OUT, request.actor, "ok", now, request.hint, detail=dict(CACHED))


class WarmHandOut(Protocol):
    async def hand_out_warm(self, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
        """For every request, in ONE transaction: read the phone's account and primary; where :func:`may_hand_out`
        holds, append :func:`hand_out_event`; then commit. Answers in the order of ``requests`` (one per request,
        duplicates included). Raises (nothing committed) when the transaction fails."""
        ...


async def hand_out_in(uow: UnitOfWork, requests: Sequence[WarmRequest], now: datetime) -> list[WarmAnswer]:
    """:meth:`WarmHandOut.hand_out_warm` through any unit of work (entered by the caller, committed here): the
    in-memory fake's way, and the SQL adapter's fallback."""
    answers: list[WarmAnswer] = []
    for request in requests:
        found = await uow.accounts.account_and_primary(request.phone)
        if found is None or found[0].id is None:
            answers.append(WarmAnswer(None, False))
            continue
        account, primary = found
        audited = may_hand_out(WarmRow.of(account, primary, reveal=False), request.hint, now)
        if audited:
            await uow.audit.append_event(hand_out_event(found[0].id, request, now))
        answers.append(WarmAnswer(WarmRow.of(account, primary, reveal=audited), audited))
    await uow.commit()
    return answers
