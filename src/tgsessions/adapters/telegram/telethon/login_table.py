"""What a refused step of a mint means: ``LOGIN_TABLE``, one row per error, and the steps a failure is named by.

The methods are tried in the order of ``METHODS``, QR login token first. An error saying QR login is not possible
(API_ID_PUBLISHED_FLOOD or API_ID_INVALID from ``auth.exportLoginToken``, the token errors, a QR flow that does not
finish in time) falls back to the login code in the same mint; flood waits, dead sources and anything else fail the
mint (transient or not). ``LoginProgress`` is where a mint is: its method, its step, and whether a new authorization
may exist at Telegram yet.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from telethon import errors

from tgsessions.adapters.telegram.telethon.outcomes import (
    ACCOUNT_DEAD,
    FLOOD,
    SERVER,
    SESSION_DEAD,
    LoginAnswer,
    rpc_name,
)

# the steps a failure is named by
CONNECT, LIST_AUTHORIZATIONS = "connect", "list_authorizations"
EXPORT_TOKEN, ACCEPT_TOKEN, IMPORT_TOKEN = "export_token", "accept_token", "import_token"
SEND_CODE, READ_CODE, SIGN_IN, PASSWORD = "send_code", "read_code", "sign_in", "password"
STEPS = (
    CONNECT,
    LIST_AUTHORIZATIONS,
    EXPORT_TOKEN,
    ACCEPT_TOKEN,
    IMPORT_TOKEN,
    SEND_CODE,
    READ_CODE,
    SIGN_IN,
    PASSWORD,
)


class QrUnfinished(LoginAnswer):
    """The QR flow did not end in LoginTokenSuccess."""

    name = "QR_UNFINISHED"


class NewLoginRefused(LoginAnswer):
    """Telegram refused the new client's key (not the source's): says nothing about the source."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(rpc_name(error))
        self.name = rpc_name(error)


class Decision(StrEnum):
    FALL_BACK = "fall_back"  # QR login is not possible: remember it for the account, log in by code in this mint
    TRANSIENT = "transient"  # fail this mint; another attempt may succeed (the service retries inside the budget)
    PERMANENT = "permanent"  # fail this mint; retrying does not help (flood waits carry their own retry_after)


@dataclass(frozen=True)
class Rule:
    kinds: tuple[type[BaseException], ...]
    qr: Decision  # the error answered a step of the QR method
    code: Decision  # ... of the login code method (or the 2FA password after either)
    why: str


METHODS = ("qr", "code")  # the order the methods are tried in
FALL_BACK, TRANSIENT, PERMANENT = Decision.FALL_BACK, Decision.TRANSIENT, Decision.PERMANENT
LOGIN_TABLE: tuple[Rule, ...] = (  # the first row an error is an instance of decides; no row: PERMANENT
    Rule((errors.ApiIdPublishedFloodError,), FALL_BACK, PERMANENT, "this API id may not export login tokens"),
    Rule((errors.ApiIdInvalidError,), FALL_BACK, PERMANENT, "Telegram does not take this API id for QR login"),
    Rule((errors.AuthTokenExpiredError,), FALL_BACK, PERMANENT, "the token expired before it was accepted"),
    Rule((errors.AuthTokenAlreadyAcceptedError,), FALL_BACK, PERMANENT, "the token was accepted elsewhere"),
    Rule((errors.AuthTokenInvalidError,), FALL_BACK, PERMANENT, "the token (or QR login) is refused"),
    Rule((QrUnfinished,), FALL_BACK, PERMANENT, "the QR flow did not end in LoginTokenSuccess"),
    Rule((TimeoutError,), FALL_BACK, TRANSIENT, "a step did not answer in time (QR: the flow timed out)"),
    Rule(FLOOD, TRANSIENT, TRANSIENT, "a flood wait: TelegramUnavailable with its retry_after, not retried here"),
    Rule(SERVER, TRANSIENT, TRANSIENT, "Telegram's server failed: TelegramUnavailable"),
    Rule((NewLoginRefused,), TRANSIENT, TRANSIENT, "the new client's key was refused: a fresh one may do"),
    Rule(tuple(kind for kind, _ in SESSION_DEAD), PERMANENT, PERMANENT, "the source session is dead"),
    Rule(tuple(kind for kind, _, _ in ACCOUNT_DEAD), PERMANENT, PERMANENT, "the account is banned or deleted"),
    Rule((errors.PhoneCodeExpiredError,), PERMANENT, TRANSIENT, "the code expired: a new mint sends a new one"),
    Rule((errors.PhoneCodeInvalidError,), PERMANENT, TRANSIENT, "the code read was not the one sent"),
    Rule((errors.PhoneNumberFloodError,), PERMANENT, PERMANENT, "too many codes asked for: not retried"),
    Rule((OSError, ConnectionError, asyncio.IncompleteReadError), TRANSIENT, TRANSIENT, "a network failure"),
)


def decide(exc: BaseException, method: str) -> Decision:
    """What ``exc`` means when it answered a step of ``method`` (``LOGIN_TABLE``)."""
    for rule in LOGIN_TABLE:
        if isinstance(exc, rule.kinds):
            return rule.qr if method == "qr" else rule.code
    return PERMANENT


@dataclass
class LoginProgress:
    method: str = METHODS[0]
    step: str = CONNECT
    exposed: bool = False  # a new authorization may exist at Telegram from here on
