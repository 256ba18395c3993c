"""Telethon errors, translated: into verdicts for ``validate`` and into domain errors for every other call.

The verdict table of docs/telegram.md lives here and nowhere else (the login table, which decides what a refused
login step means, lives in login_table.py). Messages name the phone, the step and Telegram's own error name
(``rpc_name``: API_ID_PUBLISHED_FLOOD, not Telethon's generic BAD_REQUEST) only, never a session string, a password,
an API hash or the Telethon request (which may carry them).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from telethon import errors
from telethon.errors import rpcerrorlist

from tgsessions.domain.errors import AccountBanned, MintFailed, TelegramUnavailable, TgSessionsError
from tgsessions.domain.verdict import Reason, Verdict

SERVER_RETRY_AFTER = 5.0

SESSION_DEAD: tuple[tuple[type[BaseException], str], ...] = (
    (errors.AuthKeyUnregisteredError, Reason.AUTH_KEY_UNREGISTERED),
    (errors.SessionRevokedError, Reason.SESSION_REVOKED),
    (errors.SessionExpiredError, Reason.SESSION_EXPIRED),
    (errors.AuthKeyInvalidError, Reason.AUTH_KEY_INVALID),
    (errors.AuthKeyDuplicatedError, Reason.AUTH_KEY_DUPLICATED),
)
ACCOUNT_DEAD: tuple[tuple[type[BaseException], str, str], ...] = (  # (error, reason code, AccountBanned wording)
    (errors.UserDeactivatedBanError, Reason.USER_BANNED, "banned"),
    (errors.PhoneNumberBannedError, Reason.PHONE_BANNED, "banned"),
    (errors.UserDeactivatedError, Reason.USER_DEACTIVATED, "deactivated"),
)
LIMITED: tuple[type[BaseException], ...] = (errors.FrozenMethodInvalidError, errors.PeerFloodError)
FLOOD: tuple[type[BaseException], ...] = (errors.FloodWaitError, errors.FloodPremiumWaitError)
SERVER: tuple[type[BaseException], ...] = (errors.ServerError, errors.TimedOutError)


def _error_names() -> dict[type[BaseException], str]:
    """Telethon's error classes by Telegram's names (a known error's ``message`` is its base class's BAD_REQUEST)."""
    names: dict[type[BaseException], str] = {}
    for name, kind in rpcerrorlist.rpc_errors_dict.items():
        names.setdefault(kind, name)
    for pattern, kind in rpcerrorlist.rpc_errors_re:  # FLOOD_WAIT_(\d+) -> FLOOD_WAIT_X, as Telegram's docs write it
        names.setdefault(kind, pattern.replace("(\\d+)", "X"))
    return names


ERROR_NAMES = _error_names()
LOGIN_REQUESTS = ("ExportLoginToken", "AcceptLoginToken", "ImportLoginToken", "SendCode", "SignIn", "CheckPassword")


class LoginAnswer(Exception):
    """An answer Telegram gave that ends a login step (the QR flow unfinished, the new client's key refused): the
    source's connection is fine."""


class LoginStepFailed(Exception):
    """A refused login step, raised by the login flow (login_flow.py) for the gateway to translate (``login_error``)
    after noting a flood wait. Never leaves the adapter; its text is the step and Telegram's error name only."""

    def __init__(self, step: str, error: BaseException, *, transient: bool) -> None:
        super().__init__(f"{step}:{rpc_name(error)}")
        self.step = step
        self.error = error
        self.transient = transient


def rpc_name(exc: BaseException) -> str:
    """Telegram's name for an error (API_ID_PUBLISHED_FLOOD, FLOOD_WAIT_X); ``timeout`` / ``network_error`` for
    transport failures; the class name (or a ``name`` attribute) for anything else."""
    known = ERROR_NAMES.get(type(exc))
    if known is not None:
        return known
    message = getattr(exc, "message", None)
    if isinstance(exc, errors.RPCError) and isinstance(message, str) and message:
        return message  # an error Telethon has no class for carries Telegram's text
    transport = transport_reason(exc)
    if transport is not None:
        return transport
    name = getattr(exc, "name", None)
    return name if isinstance(name, str) and name else type(exc).__name__


def session_dead_reason(exc: BaseException) -> str | None:
    return next((reason for kind, reason in SESSION_DEAD if isinstance(exc, kind)), None)


def account_dead(exc: BaseException) -> tuple[str, str] | None:
    """(reason code, wording) when ``exc`` says the whole account is gone."""
    return next(((reason, word) for kind, reason, word in ACCOUNT_DEAD if isinstance(exc, kind)), None)


def flood_seconds(exc: BaseException) -> float | None:
    if isinstance(exc, FLOOD):
        return float(max(1, int(getattr(exc, "seconds", 1) or 1)))
    return None


def is_login_request(exc: BaseException) -> bool:
    """The error answered a login step: a flood wait there is the login budget, not the account's API budget."""
    name = type(getattr(exc, "request", None)).__name__
    return any(name.startswith(step) for step in LOGIN_REQUESTS)


def transport_reason(exc: BaseException) -> str | None:
    """timeout / network_error for our own timeouts and connection failures; None for anything else."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Reason.TIMEOUT
    if isinstance(exc, OSError | ConnectionError | asyncio.IncompleteReadError):
        return Reason.NETWORK
    return None


def connection_survives(exc: BaseException) -> bool:
    """Whether a pooled connection may be reused after ``exc``: only after an RPC answer that keeps the key usable."""
    if isinstance(exc, LoginStepFailed):
        return isinstance(exc.error, LoginAnswer) or connection_survives(exc.error)
    if isinstance(exc, TgSessionsError):
        return True  # our own verdict after a successful answer (a wrong 2FA password, a missing code)
    if not isinstance(exc, errors.RPCError):
        return False  # transport errors, timeouts, cancellation: the connection state is unknown
    return not isinstance(exc, errors.UnauthorizedError | errors.AuthKeyError)


def verdict_for(exc: BaseException, now: datetime) -> Verdict:
    """The verdict an error means (docs/telegram.md, "Verdicts")."""
    reason = session_dead_reason(exc)
    if reason is not None:
        return Verdict.dead(reason, now)
    dead_account = account_dead(exc)
    if dead_account is not None:
        return Verdict.account_dead(dead_account[0], now)
    if isinstance(exc, LIMITED):
        return Verdict.alive(now, frozen=True)
    seconds = flood_seconds(exc)
    if seconds is not None:
        return Verdict.unknown(Reason.FLOOD_WAIT, now, retry_after=seconds)
    if isinstance(exc, errors.TimedOutError):
        return Verdict.unknown(Reason.TIMEOUT, now)
    if isinstance(exc, errors.ServerError):
        return Verdict.unknown(Reason.SERVER_ERROR, now)
    transport = transport_reason(exc)
    if transport is not None:
        return Verdict.unknown(transport, now)
    return Verdict.unknown(Reason.SERVER_ERROR, now)  # an answer we do not know says nothing about the session


def domain_error(exc: BaseException, phone: str, *, minting: bool = False) -> TgSessionsError:
    """The domain error for a failed mint, revocation or listing (raise it ``from None``)."""
    reason = session_dead_reason(exc)
    if reason is not None:
        return MintFailed(
            f"cannot use a session of account {phone}: the source session is dead ({reason})",
            reason="source_dead",
            transient=False,
            phone=phone,
        )
    dead_account = account_dead(exc)
    if dead_account is not None:
        return AccountBanned(phone, dead_account[1])
    seconds = flood_seconds(exc)
    if seconds is not None:
        if is_login_request(exc):
            return TelegramUnavailable(
                f"Telegram refused a login for account {phone} (its login budget at Telegram is spent or logins "
                f"are rate-limited); retry after {seconds:.0f} s",
                retry_after=seconds,
                phone=phone,
            )
        return TelegramUnavailable(
            f"Telegram asked to wait {seconds:.0f} s before the next call for account {phone}",
            retry_after=seconds,
            phone=phone,
        )
    if isinstance(exc, LIMITED):
        return MintFailed(
            f"account {phone} is restricted by Telegram ({type(exc).__name__})",
            reason="account_limited",
            transient=False,
            phone=phone,
        )
    if isinstance(exc, SERVER):
        return TelegramUnavailable(
            f"Telegram answered with a server error for account {phone} ({type(exc).__name__})",
            retry_after=SERVER_RETRY_AFTER,
            phone=phone,
        )
    transport = transport_reason(exc)
    if transport is not None:
        text = f"Telegram could not be reached for account {phone} ({transport})"
        if minting:
            return MintFailed(text, reason=transport, transient=True, phone=phone)
        return TelegramUnavailable(text, retry_after=SERVER_RETRY_AFTER, phone=phone)
    name = rpc_name(exc)
    return MintFailed(
        f"Telegram refused the call for account {phone} ({name})", reason="telegram_error", transient=False, phone=phone
    )


def login_error(exc: BaseException, phone: str, step: str, *, transient: bool) -> TgSessionsError:
    """The domain error for a refused login step (raise it ``from None``): the reason of a MintFailed is
    ``<step>:<Telegram's error name>`` (``send_code:PHONE_NUMBER_FLOOD``); flood waits and server errors are
    TelegramUnavailable, a banned or deleted account AccountBanned, each message naming the step and the error."""
    where = f"{step}:{rpc_name(exc)}"
    dead_account = account_dead(exc)
    if dead_account is not None:
        return AccountBanned(phone, dead_account[1])
    seconds = flood_seconds(exc)
    if seconds is not None:
        return TelegramUnavailable(
            f"Telegram refused a login for account {phone} at {where} (its login budget at Telegram is spent or "
            f"logins are rate-limited); retry after {seconds:.0f} s",
            retry_after=seconds,
            phone=phone,
            reason=where,
        )
    if isinstance(exc, SERVER):
        return TelegramUnavailable(
            f"Telegram answered with a server error for account {phone} at {where}",
            retry_after=SERVER_RETRY_AFTER,
            phone=phone,
            reason=where,
        )
    return MintFailed(f"minting for account {phone} failed at {where}", reason=where, transient=transient, phone=phone)
