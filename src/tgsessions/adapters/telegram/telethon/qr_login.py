"""The QR login token method of a mint: the new client exports a token, the source accepts it, the new client
exports again and gets ``LoginTokenSuccess`` (or ``LoginTokenMigrateTo``: switch DC, import the token)."""

from __future__ import annotations

import asyncio
from typing import Any

from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.login_table import (
    ACCEPT_TOKEN,
    EXPORT_TOKEN,
    IMPORT_TOKEN,
    LoginProgress,
    QrUnfinished,
)
from tgsessions.adapters.telegram.telethon.raw_requests import LoginRequests

TOKEN_POLLS = 3


async def log_in_by_qr(requests: LoginRequests, source: Any, new: Any, progress: LoginProgress) -> None:
    """Log ``new`` in with a login token the ``source`` accepts; raises ``QrUnfinished`` when no success comes."""
    export = functions.auth.ExportLoginTokenRequest(new.api_id, requests.config.api_hash.reveal(), except_ids=[])
    progress.step = EXPORT_TOKEN
    result = await requests.call_new(new, export)
    if isinstance(result, types.auth.LoginToken):
        progress.exposed = True
        progress.step = ACCEPT_TOKEN
        await requests.call(source, functions.auth.AcceptLoginTokenRequest(result.token))
        progress.step = EXPORT_TOKEN
        for _ in range(TOKEN_POLLS):  # the source's accept reaches the new client's DC quickly, not instantly
            result = await requests.call_new(new, export)
            if not isinstance(result, types.auth.LoginToken):
                break
            await asyncio.sleep(0.5)
    if isinstance(result, types.auth.LoginTokenMigrateTo):
        progress.step = IMPORT_TOKEN
        await requests.switch_dc(new, result.dc_id)
        result = await requests.call_new(new, functions.auth.ImportLoginTokenRequest(result.token))
    if not isinstance(result, types.auth.LoginTokenSuccess):
        raise QrUnfinished(type(result).__name__)
