"""Raw Telethon requests, each bounded in time; a mint's new client's refusals told apart from the source's."""

from __future__ import annotations

import asyncio
from typing import Any

from telethon import errors

from tgsessions.adapters.telegram.telethon.clients import TelethonConfig
from tgsessions.adapters.telegram.telethon.login_table import NewLoginRefused


async def invoke(client: Any, request: Any, seconds: float) -> Any:
    """One raw request, bounded."""
    async with asyncio.timeout(seconds):
        return await client(request)


class LoginRequests:
    """The requests of a mint, bounded by the configured ``request_timeout`` (a DC switch also by the connect one)."""

    def __init__(self, config: TelethonConfig) -> None:
        self.config = config

    async def call(self, client: Any, request: Any) -> Any:
        return await invoke(client, request, self.config.request_timeout)

    async def call_new(self, client: Any, request: Any) -> Any:
        """A request of the new client: its key being refused says nothing about the source."""
        try:
            return await self.call(client, request)
        except (errors.UnauthorizedError, errors.AuthKeyError) as exc:
            if isinstance(exc, errors.SessionPasswordNeededError | errors.PhonePasswordFloodError):
                raise
            raise NewLoginRefused(exc) from None

    async def switch_dc(self, client: Any, dc_id: int) -> None:
        async with asyncio.timeout(self.config.connect_timeout + self.config.request_timeout):
            await client._switch_dc(dc_id)
