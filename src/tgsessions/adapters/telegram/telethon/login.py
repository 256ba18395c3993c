"""An interactive login that creates a new session (onboarding the account's keeper): Telegram sends a code to the
account's other devices (or by SMS), the operator types it, and the 2FA password when the account has one.

Raw requests only: ``auth.SendCodeRequest`` (switching DC on a PHONE_MIGRATE answer), ``auth.SignInRequest`` with the
same client and hash, then SRP for 2FA. A wrong code or password may be typed again (three tries each); every try
counts against the account's login budget at Telegram, so the operator is told so. The client is disconnected in all
paths; after a failure following a successful sign-in, the new session logs itself out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telethon import errors
from telethon.password import compute_check
from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.clients import ClientFactory
from tgsessions.adapters.telegram.telethon.pool import disconnect
from tgsessions.adapters.telegram.telethon.raw_requests import invoke
from tgsessions.domain.errors import AccountBanned, InvalidInput, TelegramUnavailable
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.secret import Secret

TRIES = 3
Ask = Callable[[str], Awaitable[str]]  # a prompt: the text to show -> what the operator typed


@dataclass(frozen=True, slots=True)
class LoggedIn:
    string: Secret
    two_fa: Secret | None  # the password the operator typed, when the account asked for one


async def interactive_login(
    factory: ClientFactory, phone: str, ask: Ask, *, identity: ClientIdentity, proxy: Proxy | None = None
) -> LoggedIn:
    config = factory.config
    client = factory.fresh(identity, proxy)
    signed_in = False
    try:
        async with asyncio.timeout(config.connect_timeout):
            await client.connect()
        sent = await _send_code(client, factory, phone, identity)
        password: Secret | None = None
        try:
            await _sign_in_with_code(client, phone, sent.phone_code_hash, ask)
        except errors.SessionPasswordNeededError:
            password = await _check_password(client, phone, ask)
        signed_in = True
        string = client.session.save()
        if not string:
            raise TelegramUnavailable(f"Telegram gave no session for {phone}", retry_after=60, phone=phone)
        return LoggedIn(Secret(string), password)
    except errors.FloodWaitError as exc:
        raise TelegramUnavailable(
            f"Telegram asks to wait {exc.seconds} s before logging {phone} in again",
            retry_after=exc.seconds,
            phone=phone,
        ) from None
    except (errors.PhoneNumberBannedError, errors.UserDeactivatedBanError):
        raise AccountBanned(phone, "banned") from None
    except (errors.PhoneNumberInvalidError, errors.PhoneNumberUnoccupiedError):
        raise InvalidInput(f"Telegram does not know the phone number {phone}", field="phone", phone=phone) from None
    except (OSError, TimeoutError, errors.ServerError) as exc:
        raise TelegramUnavailable(
            f"Telegram did not answer while logging {phone} in ({type(exc).__name__})", retry_after=30, phone=phone
        ) from None
    except BaseException:
        if signed_in:
            await asyncio.shield(_log_out(client, config.cleanup_timeout))
        raise
    finally:
        await disconnect(client)


async def _send_code(client: Any, factory: ClientFactory, phone: str, identity: ClientIdentity) -> Any:
    config = factory.config
    request = functions.auth.SendCodeRequest(
        phone, factory.api_id_for(identity), config.api_hash.reveal(), types.CodeSettings()
    )
    try:
        return await invoke(client, request, config.request_timeout)
    except errors.PhoneMigrateError as exc:  # the account lives on another data centre
        async with asyncio.timeout(config.connect_timeout + config.request_timeout):
            await client._switch_dc(exc.new_dc)
        return await invoke(client, request, config.request_timeout)


async def _sign_in_with_code(client: Any, phone: str, code_hash: str, ask: Ask) -> None:
    prompt = "login code (sent to the account's Telegram apps or by SMS)"
    for attempt in range(TRIES):
        code = (await ask(prompt)).strip().replace(" ", "")
        try:
            result = await invoke(client, functions.auth.SignInRequest(phone, code_hash, code), 30.0)
        except errors.PhoneCodeInvalidError:
            if attempt + 1 == TRIES:
                raise InvalidInput("the login code was wrong three times; try again later", field="code") from None
            prompt = "that code was wrong (each try counts against the login budget); login code"
            continue
        except errors.PhoneCodeExpiredError:
            raise InvalidInput("the login code expired; run the login again", field="code") from None
        if isinstance(result, types.auth.AuthorizationSignUpRequired):
            raise InvalidInput(f"{phone} has no Telegram account", field="phone", phone=phone)
        return


async def _check_password(client: Any, phone: str, ask: Ask) -> Secret:
    prompt = "2FA password"
    for attempt in range(TRIES):
        typed = await ask(prompt)
        parameters = await invoke(client, functions.account.GetPasswordRequest(), 30.0)
        check = await asyncio.to_thread(compute_check, parameters, typed)
        try:
            await invoke(client, functions.auth.CheckPasswordRequest(check), 30.0)
        except errors.PasswordHashInvalidError:
            if attempt + 1 == TRIES:
                raise InvalidInput(
                    "the 2FA password was wrong three times; Telegram keeps this login waiting for its password "
                    "(it refuses to log it out): end it from another session of the account (Devices)",
                    field="password",
                    phone=phone,
                ) from None
            prompt = "that password was wrong; 2FA password"
            continue
        return Secret(typed)
    raise AssertionError("unreachable")  # pragma: no cover


async def _log_out(client: Any, seconds: float) -> None:
    try:
        await invoke(client, functions.auth.LogOutRequest(), seconds)
    except (errors.RPCError, OSError, TimeoutError):
        return
