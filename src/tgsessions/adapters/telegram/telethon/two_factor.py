"""The 2FA step of a mint (``SessionPasswordNeededError`` after either method): the account's stored password,
checked through SRP."""

from __future__ import annotations

import asyncio
from typing import Any

from telethon import errors
from telethon.password import compute_check
from telethon.tl import functions

from tgsessions.adapters.telegram.telethon.raw_requests import LoginRequests
from tgsessions.domain.errors import MintFailed, TelegramUnavailable, TwoFactorInvalid
from tgsessions.domain.secret import Secret

PASSWORD_FLOOD_RETRY = 24 * 3600.0


async def check_password(requests: LoginRequests, new: Any, phone: str, two_fa: Secret | None) -> None:
    if two_fa is None:
        raise TwoFactorInvalid(f"no 2FA password stored for account {phone}, but Telegram asks for one", phone=phone)
    password = await requests.call_new(new, functions.account.GetPasswordRequest())
    try:
        check = await asyncio.to_thread(compute_check, password, two_fa.reveal())
    except ValueError:
        raise MintFailed(
            f"Telegram's 2FA parameters for account {phone} failed the safety checks",
            reason="password:two_factor_parameters",
            transient=False,
            phone=phone,
        ) from None
    try:
        await requests.call_new(new, functions.auth.CheckPasswordRequest(check))
    except errors.PasswordHashInvalidError:
        raise TwoFactorInvalid("stored 2FA password is wrong (password:PASSWORD_HASH_INVALID)", phone=phone) from None
    except errors.PhonePasswordFloodError:
        raise TelegramUnavailable(
            f"too many 2FA attempts for account {phone} (password:PHONE_PASSWORD_FLOOD); Telegram blocks "
            "password checks for a while",
            retry_after=PASSWORD_FLOOD_RETRY,
            phone=phone,
        ) from None
