"""Top-up: backups minted until the target exists, leaving the login reserve for fetch.

Fetch starts it in the background after a promotion or a mint; maintenance runs it for every account.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tgsessions.domain.errors import LoginBudgetSpent, MintFailed, TelegramUnavailable, TgSessionsError
from tgsessions.domain.model import AccountState, Role
from tgsessions.domain.ports import Lease
from tgsessions.service.options import FactoryOptions
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.minting import Minter
from tgsessions.service.sessions.promotion import Promotion

if TYPE_CHECKING:
    from tgsessions.service.sessions.context import UseCaseContext

log = logging.getLogger("tgsessions.factory")


async def top_up_in_background(ctx: UseCaseContext, phone: str) -> None:
    """Background: mint backups up to the target after a promotion or a mint. Failures are logged, not raised."""
    try:
        async with ctx.working(phone, "top-up") as (work, lease):
            await ctx.top_up.top_up(work, lease, ctx.options.target_backups)
    except TgSessionsError as exc:
        log.info("top-up of %s stopped: %s", phone, exc.code)


class TopUp:
    def __init__(self, promotion: Promotion, minter: Minter, options: FactoryOptions) -> None:
        self._promotion = promotion
        self._minter = minter
        self._options = options

    async def top_up(self, work: LockedAccount, lease: Lease, target: int) -> int:
        """Mint backups until ``target`` exist, leaving the login reserve for fetch. Returns how many were minted."""
        primary = work.pool.primary
        if work.account.state is not AccountState.ACTIVE or primary is None:
            return 0
        needed = target - len(work.pool.backups)
        if needed <= 0:
            return 0
        source = await self._promotion.mint_source(work, handed_out=primary.session_id)
        if source is None:
            return 0
        minted = 0
        for _ in range(needed):
            try:
                await self._minter.mint(
                    work, source, role=Role.BACKUP, fence=lease, reserve=self._options.login_reserve
                )
            except (LoginBudgetSpent, MintFailed, TelegramUnavailable):
                break
            minted += 1
        return minted
