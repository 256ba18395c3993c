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
from tgsessions.domain.warm_hand_out import WarmRow
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
    return _warm_result(found) if found is not None else None


def _warm_result(row: WarmRow) -> FetchResult:
    primary = row.primary
    assert primary is not None, "a handed-out warm row has its primary"
    assert primary.string is not None, "and holds its string"
    return FetchResult(
        phone=row.phone,
        session=primary.string,
        session_id=primary.session_id,
        role=primary.role.value,
        origin=primary.origin.value,
        how="cached",
        last_updated=row.last_updated,
        created_at=row.created_at,
        updated_at=row.updated_at,
        frozen=row.frozen,
        user_id=row.user_id,
        api_id=primary.api_id,
    )


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
    wanted = [i for i in items if isinstance(i, str)]
    by_phone = await _batch_warm(ctx, wanted, actor)
    gate = asyncio.Semaphore(ctx.options.batch_concurrency)

    async def one(number: str) -> BatchItem:
        async with gate:
            try:
                return BatchItem(number, result=await fetch_one(ctx, number, actor=actor))
            except TgSessionsError as exc:
                return _failed(number, exc)

    cold = [number for number in wanted if number not in by_phone]
    by_phone.update((item.phone, item) for item in await asyncio.gather(*(one(number) for number in cold)))
    return [by_phone[i] if isinstance(i, str) else i for i in items]


async def _batch_warm(ctx: UseCaseContext, phones: list[str], actor: str) -> dict[str, BatchItem]:
    """The warm pass of a batch: every phone whose primary hint has an alive cached verdict, in ONE hand-out.

    Returns the items it settled (handed out, or that phone's error); the others take the cold path."""
    hints = {phone: hint for phone in phones if (hint := ctx.primary_hints.get(phone)) is not None}
    verdicts = await ctx.cache.get_many(list(hints.values()))
    wanted = [(phone, hint) for (phone, hint), v in zip(hints.items(), verdicts, strict=True) if v and v.is_alive]
    settled: dict[str, BatchItem] = {}
    if not wanted:
        return settled
    try:
        answers: list[WarmRow | Exception | None] = await ctx.warm.fetch_many(wanted, actor)
    except TgSessionsError as exc:  # the batch's hand-out failed (storage): each of its phones says so
        answers = [exc] * len(wanted)
    for (phone, _hint), answer in zip(wanted, answers, strict=True):
        if isinstance(answer, TgSessionsError):
            ctx.metrics.fetch_failed(answer.code)
            settled[phone] = _failed(phone, answer)
        elif isinstance(answer, WarmRow):
            settled[phone] = BatchItem(phone, result=_warm_result(answer))
        elif answer is not None:
            raise answer  # not a domain error: a bug, not one phone's answer
    if handed_out := sum(1 for item in settled.values() if item.result is not None):
        ctx.metrics.fetched("cached", handed_out)
    return settled


def _failed(phone: str, exc: TgSessionsError) -> BatchItem:
    retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
    return BatchItem(phone, error_code=exc.code, error=exc.message, retry_after=retry_after)
