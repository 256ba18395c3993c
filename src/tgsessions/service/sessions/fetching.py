"""fetch_one and batch_fetch: hand out a session that works right now.

Warm path: the primary's verdict is cached alive, so one short read plus the audit row, without the lock.
Cold path: under the phone lock, validate the primary, promote the newest live backup, or mint (promotion.py).
Every hand-out writes a ``handed_out`` event in the same transaction; if that write fails, nothing is returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tgsessions.domain.errors import InvalidInput, RetryLater, TgSessionsError
from tgsessions.domain.model import Account, Action, Session
from tgsessions.domain.phone import normalise_phone
from tgsessions.service.results import BatchItem, FetchResult
from tgsessions.service.sessions.context import UseCaseContext
from tgsessions.service.sessions.top_up import top_up_in_background

log = logging.getLogger("tgsessions.factory")


async def fetch_one(ctx: UseCaseContext, phone: object, *, actor: str) -> FetchResult:
    try:
        result = await _fetch(ctx, phone, actor=actor)
    except TgSessionsError as exc:
        ctx.metrics.fetch_failed(exc.code)
        raise
    ctx.metrics.fetched(result.how)
    return result


async def _fetch(ctx: UseCaseContext, phone: object, *, actor: str) -> FetchResult:
    number = normalise_phone(phone)
    warm = await _fetch_cached(ctx, number, actor)
    if warm is not None:
        return warm
    # lease → pool: the phone is held and its account loaded as a LockedAccount (its AccountPool inside)
    async with ctx.working(number, actor) as (work, lease):
        # validate → promote/mint: the primary if alive, else the newest live backup, else a fresh mint
        session, how = await ctx.promotion.ensure_primary(work, lease)
        work.event(Action.HANDED_OUT, ctx.clock.now(), session=session, how=how)
        result = _result(work.account, session, how)
    # persist → hand out: leaving the block wrote every change and the handed_out event in one fenced commit
    ctx.primary_hints.set(number, result.session_id)
    if how in ("promoted", "minted") and ctx.options.top_up_in_background:
        ctx.spawn(f"top-up:{number}", top_up_in_background(ctx, number))
    return result


async def _fetch_cached(ctx: UseCaseContext, phone: str, actor: str) -> FetchResult | None:
    """The lock-free warm path, taken only when the primary this process last saw has an alive cached verdict."""
    hint = ctx.primary_hints.get(phone)
    if hint is None:
        return None
    verdict = await ctx.cache.get(hint)
    if verdict is None or not verdict.is_alive:
        return None
    found = await ctx.warm.fetch(phone, hint, actor)
    if found is None:
        return None
    account, primary = found
    return _result(account, primary, "cached")


def _result(account: Account, session: Session, how: str) -> FetchResult:
    assert session.string is not None
    return FetchResult(
        phone=account.phone,
        session=session.string,
        session_id=session.session_id,
        role=session.role.value,
        origin=session.origin.value,
        how=how,
        last_updated=account.last_updated,
        created_at=account.created_at,
        updated_at=account.updated_at,
        frozen=account.frozen,
        user_id=account.user_id,
        api_id=session.identity.api_id,
    )


async def batch_fetch(ctx: UseCaseContext, phones: Sequence[object], *, actor: str) -> list[BatchItem]:
    """Up to ``batch_limit`` phones, deduplicated after normalisation, fetched with bounded concurrency.

    One item per distinct phone, in the order given: a result or an error (code, message, retry_after).
    """
    if not isinstance(phones, Sequence) or isinstance(phones, str | bytes):
        raise InvalidInput("mobiles must be a list of phone numbers", field="mobiles")
    limit = ctx.options.batch_limit
    if not 1 <= len(phones) <= limit:
        raise InvalidInput(f"mobiles must hold 1 to {limit} phone numbers, got {len(phones)}", field="mobiles")
    items: list[BatchItem | str] = []
    seen: set[str] = set()
    for raw in phones:
        try:
            number = normalise_phone(raw)
        except InvalidInput as exc:
            items.append(BatchItem(str(raw)[:32], error_code=exc.code, error=exc.message))
            continue
        if number not in seen:
            seen.add(number)
            items.append(number)
    gate = asyncio.Semaphore(ctx.options.batch_concurrency)

    async def one(number: str) -> BatchItem:
        async with gate:
            try:
                return BatchItem(number, result=await fetch_one(ctx, number, actor=actor))
            except RetryLater as exc:
                return BatchItem(number, error_code=exc.code, error=exc.message, retry_after=exc.retry_after)
            except TgSessionsError as exc:
                return BatchItem(number, error_code=exc.code, error=exc.message)

    fetched = await asyncio.gather(*(one(i) for i in items if isinstance(i, str)))
    by_phone = {item.phone: item for item in fetched}
    return [by_phone[i] if isinstance(i, str) else i for i in items]
