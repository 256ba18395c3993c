"""The login code method of a mint: the new client sends a code; the source finds the 777000 service chat
(``users.getUsers`` first, never trusted blindly, then ``messages.getDialogs``, which carries the chat's real access
hash) and reads its history for a message dated after the send (a 5–6 digit pattern on the raw text, stale codes
ignored); the same client signs in with the same hash."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from telethon import errors
from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.login_table import READ_CODE, SEND_CODE, SIGN_IN, LoginProgress
from tgsessions.adapters.telegram.telethon.outcomes import rpc_name
from tgsessions.adapters.telegram.telethon.raw_requests import LoginRequests
from tgsessions.domain.errors import MintFailed
from tgsessions.domain.ports import Clock

log = logging.getLogger(__name__)

TELEGRAM_SERVICE_USER = 777000
CODE_PATTERN = re.compile(r"(?<!\d)(\d{5,6})(?!\d)")
MIGRATE_ERRORS = (errors.PhoneMigrateError, errors.NetworkMigrateError, errors.UserMigrateError)
DIALOGS_LIMIT = 100  # the service chat has just received the code: it is among the newest dialogs


async def log_in_by_code(
    requests: LoginRequests, clock: Clock, source: Any, new: Any, phone: str, progress: LoginProgress
) -> None:
    """Log ``new`` in with a code sent to the account and read by ``source``."""
    config = requests.config
    send = functions.auth.SendCodeRequest(phone, new.api_id, config.api_hash.reveal(), types.CodeSettings())
    progress.step = SEND_CODE
    sent_at = clock.now()
    try:
        sent = await requests.call_new(new, send)
    except MIGRATE_ERRORS as exc:
        await requests.switch_dc(new, exc.new_dc)
        sent_at = clock.now()
        sent = await requests.call_new(new, send)
    if isinstance(sent, types.auth.SentCodeSuccess):
        progress.exposed = True
        return
    phone_code_hash = getattr(sent, "phone_code_hash", None)
    if not isinstance(phone_code_hash, str):
        raise MintFailed(
            f"Telegram answered send_code for account {phone} with {type(sent).__name__}",
            reason="send_code:unexpected_answer",
            transient=True,
            phone=phone,
        )
    progress.step = READ_CODE
    code = await read_code(requests, source, phone, sent_at)
    progress.exposed = True
    progress.step = SIGN_IN
    await requests.call_new(new, functions.auth.SignInRequest(phone, phone_code_hash, code))


async def read_code(requests: LoginRequests, source: Any, phone: str, sent_at: datetime) -> str:
    """The code of the newest 777000 message dated after ``sent_at`` (minus clock skew); polls a few times.

    The service chat is looked up on every poll until found (a first code may create it)."""
    config = requests.config
    not_before = sent_at - timedelta(seconds=config.code_clock_skew)
    peer: types.InputPeerUser | None = None
    for attempt in range(config.code_poll_attempts):
        if attempt:
            await asyncio.sleep(config.code_poll_interval)
        if peer is None:
            peer = await service_peer(requests, source)
            if peer is None:
                continue
        history = await requests.call(source, functions.messages.GetHistoryRequest(peer, 0, None, 0, 10, 0, 0, 0))
        code = fresh_code(getattr(history, "messages", None), not_before)
        if code is not None:
            return code
    if peer is None:
        raise MintFailed(
            f"the Telegram service chat (777000) is not among the dialogs of the source session of account "
            f"{phone} (read_code)",
            reason="service_chat_not_found",
            transient=True,
            phone=phone,
        )
    raise MintFailed(
        f"no login code from Telegram (777000) dated after the send_code call reached a session of account "
        f"{phone} (read_code)",
        reason="code_not_received",
        transient=True,
        phone=phone,
    )


async def service_peer(requests: LoginRequests, source: Any) -> types.InputPeerUser | None:
    """777000 with its access hash: by id (a server need not resolve access hash 0), else from the dialogs."""
    try:
        users = await requests.call(
            source, functions.users.GetUsersRequest([types.InputUser(TELEGRAM_SERVICE_USER, 0)])
        )
    except errors.BadRequestError as exc:  # USER_ID_INVALID, PEER_ID_INVALID, ...: the dialogs know it
        log.debug("users.getUsers for 777000 refused (%s); looking in the dialogs", rpc_name(exc))
        users = None
    found = service_user(users if isinstance(users, list) else [])
    if found is not None:
        return found
    dialogs = await requests.call(
        source,
        functions.messages.GetDialogsRequest(
            offset_date=None, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=DIALOGS_LIMIT, hash=0
        ),
    )
    listed = {
        peer.user_id
        for dialog in getattr(dialogs, "dialogs", None) or []
        if isinstance(peer := getattr(dialog, "peer", None), types.PeerUser)
    }
    if TELEGRAM_SERVICE_USER not in listed:
        return None
    return service_user(getattr(dialogs, "users", None) or [])


def service_user(users: list[Any]) -> types.InputPeerUser | None:
    """777000 among ``users``, when Telegram gave it with an access hash."""
    for user in users:
        if isinstance(user, types.User) and user.id == TELEGRAM_SERVICE_USER and user.access_hash is not None:
            return types.InputPeerUser(TELEGRAM_SERVICE_USER, user.access_hash)
    return None


def fresh_code(messages: Any, not_before: datetime) -> str | None:
    """The code in the newest message dated at or after ``not_before`` (stale codes never count)."""
    if not isinstance(messages, list):
        return None
    dated = [m for m in messages if isinstance(m, types.Message) and isinstance(m.date, datetime)]
    for message in sorted(dated, key=lambda m: m.date, reverse=True):
        if message.date < not_before:
            break
        found = CODE_PATTERN.search(message.message or "")
        if found:
            return found.group(1)
    return None
