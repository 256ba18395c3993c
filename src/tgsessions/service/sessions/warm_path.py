"""The warm path of fetch, served in small batches (group commit).

A warm fetch needs one read (the account and its primary) and one write (the ``handed_out`` audit row), both done
by storage's warm hand-out (domain/warm_hand_out.py: one transaction, one driver round trip on SQL). Callers that
arrive while a batch is being written wait for the next one, and each batch is ONE hand-out: every waiting phone is
read and every hand-out row is inserted before the single commit. A caller gets its string only after the commit
that holds its audit row succeeded (fail closed); if the commit fails, every caller in the batch gets the error. A
lone caller pays what it would pay alone; under load, transactions are shared. ``fetch_many`` hands a whole list in
as one group (batch_fetch's warm pass): a group is never split, and gets its answers together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tgsessions.domain.errors import AccountBanned, UnknownPhone
from tgsessions.domain.ports import Clock, Database
from tgsessions.domain.warm_hand_out import WarmAnswer, WarmRequest, WarmRow

MAX_BATCH = 64  # requests per hand-out (a group larger than this one is served alone)

Outcome = WarmRow | Exception | None  # handed out; that phone's error; or None: take the cold path


@dataclass(slots=True)
class _Group:
    """Requests that arrived together (one fetch, or one batch's warm pass) and wait on one future."""

    requests: list[WarmRequest]
    future: asyncio.Future[list[Outcome]]


class WarmFetches:
    def __init__(self, db: Database, clock: Clock, forget_hint: Callable[[str], None]) -> None:
        self._db = db
        self._clock = clock
        self._forget = forget_hint
        self._waiting: list[_Group] = []
        self._writer: asyncio.Task[None] | None = None

    async def fetch(self, phone: str, hint: str, actor: str) -> WarmRow | None:
        """The account's warm row (its primary's string revealed) when the primary is still ``hint`` (audited), else
        None (take the cold path).

        Raises UnknownPhone or AccountBanned for that phone, or the storage error of its batch.
        """
        [outcome] = await self._submit([WarmRequest(phone, hint, actor)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def fetch_many(self, wanted: Sequence[tuple[str, str]], actor: str) -> list[Outcome]:
        """:meth:`fetch` for every (phone, hint) of ``wanted`` as one group; each phone's error is its outcome
        (a storage failure of the batch is raised)."""
        return await self._submit([WarmRequest(phone, hint, actor) for phone, hint in wanted])

    async def _submit(self, requests: list[WarmRequest]) -> list[Outcome]:
        group = _Group(requests, asyncio.get_running_loop().create_future())
        self._waiting.append(group)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="warm-fetch-writer")
        return await group.future

    async def _drain(self) -> None:
        while self._waiting:
            batch: list[_Group] = []
            size = 0
            while self._waiting and (not batch or size + len(self._waiting[0].requests) <= MAX_BATCH):
                group = self._waiting.pop(0)
                batch.append(group)
                size += len(group.requests)
            try:
                await self._serve(batch)
            except Exception as exc:  # the batch's transaction failed: nobody in it gets a string
                for group in batch:
                    if not group.future.done():
                        group.future.set_exception(exc)

    async def _serve(self, batch: list[_Group]) -> None:
        requests = [request for group in batch for request in group.requests]
        answers = iter(await self._db.hand_out_warm(requests, self._clock.now()))
        for group in batch:
            outcomes = [self._judge(request, next(answers)) for request in group.requests]
            if not group.future.done():
                group.future.set_result(outcomes)

    def _judge(self, request: WarmRequest, answer: WarmAnswer) -> Outcome:
        """The hand-out when its row was written; else why not: an error for the caller, or None (go cold)."""
        row = answer.found
        if row is None:
            return UnknownPhone(request.phone)
        if answer.audited:
            return row
        if row.is_banned:
            return AccountBanned(request.phone, row.state.value)
        primary = row.primary
        if primary is None or primary.session_id != request.hint or not primary.has_string:
            self._forget(request.phone)
        return None  # the primary changed, lost its string or has its breaker open: the cold path decides

    async def aclose(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
