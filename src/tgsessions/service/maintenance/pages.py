"""The accounts of a run, streamed in pages by id.

An account whose own row does not decrypt (its 2FA password or proxy) makes its page unreadable: the page is then
read one account at a time up to it, and its id is found by probing the pages after it (which never decrypts it);
it is handed on as :class:`Unlisted`, to be recorded as a failure of that account alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from tgsessions.domain.errors import SecretUnreadable
from tgsessions.domain.model import Account
from tgsessions.service.sessions import UseCaseContext


@dataclass(frozen=True, slots=True)
class Unlisted:
    """An account whose own row does not decrypt, so it cannot be listed: its id, phone and the error."""

    id: int
    phone: str
    error: SecretUnreadable


async def accounts_after(ctx: UseCaseContext, after: int | None, page_size: int) -> AsyncIterator[Account | Unlisted]:
    """Every account after id ``after`` (all of them when None), in id order."""
    while True:
        page = await read_page(ctx, after, page_size)
        if not page:
            return
        for account in page:
            assert account.id is not None
            after = account.id
            yield account


async def read_page(ctx: UseCaseContext, after: int | None, limit: int) -> list[Account | Unlisted]:
    """The next page of accounts; when one of them does not decrypt, the accounts before it one at a time, then it
    (as :class:`Unlisted`)."""
    try:
        async with ctx.db.unit_of_work() as uow:
            return list(await uow.accounts.accounts_page(after_id=after, limit=limit))
    except SecretUnreadable:
        pass
    try:
        async with ctx.db.unit_of_work() as uow:
            return list(await uow.accounts.accounts_page(after_id=after, limit=1))
    except SecretUnreadable as exc:
        return [Unlisted(await _unlisted_id(ctx, after or 0, exc), exc.phone or "(unknown phone)", exc)]


async def _unlisted_id(ctx: UseCaseContext, after: int, error: SecretUnreadable) -> int:
    """The id of the first account after ``after``, whose row raises ``error``: the smallest ``x`` from which the
    page after ``x`` no longer starts with it (galloping, then bisecting: a few reads, none of them decrypting it)."""

    async def starts_with_it(x: int) -> bool:
        try:
            async with ctx.db.unit_of_work() as uow:
                await uow.accounts.accounts_page(after_id=x, limit=1)
        except SecretUnreadable as other:
            return (other.phone, other.message) == (error.phone, error.message)
        return False

    low, step = after, 1  # the page after ``low`` starts with it
    while await starts_with_it(low + step):
        low, step = low + step, step * 2
    high = low + step  # ... and the page after ``high`` does not: its id is in (low, high]
    while high - low > 1:
        middle = (low + high) // 2
        if await starts_with_it(middle):
            low = middle
        else:
            high = middle
    return high
