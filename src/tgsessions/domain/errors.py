"""The error tree of tgsessions. Every error a caller can see is one of these; adapters translate third-party
errors into them at the boundary (``raise ... from exc``).

::

    TgSessionsError                      base; ``code`` is a stable machine-readable name
    ├── InvalidInput                     bad phone, bad argument, a string that is not a session (HTTP 400/422)
    │   ├── SessionRejected              a submitted session is dead or belongs to another phone (422)
    │   └── UnknownSessionFormat         a submitted string fits no session layout, or more than one (422)
    ├── UnknownPhone                     no account with that phone (404)
    ├── AccountExists                    add_account for a phone that is already stored (409)
    ├── AccountUnavailable               the account cannot give a session (409)
    │   ├── AccountUnrecoverable         no live session is left; nothing was deleted
    │   └── AccountBanned                Telegram says the account is banned or deactivated
    ├── RetryLater                       try again after ``retry_after`` seconds (429/503)
    │   ├── TelegramUnavailable          Telegram did not answer or asked us to wait; nothing was demoted (503)
    │   └── LoginBudgetSpent             the account's login budget for 24 h is used up (429)
    │   ├── RateLimited                  this API key sent too many requests (429)
    │   └── StorageUnavailable           the database did not answer; nothing was returned (503)
    ├── ConcurrentModification           another caller changed or holds the account (409)
    ├── NotFound                         another missing thing: an API key, a maintenance run (404)
    ├── Unauthenticated                  no API key, or one that is unknown or revoked (401)
    ├── Forbidden                        the API key lacks the scope (403)
    ├── MaintenanceRunning               a maintenance run is already under way (409)
    ├── MintFailed                       a new session could not be minted (cause in ``reason``)
    │   └── TwoFactorInvalid             the stored 2FA password is missing or wrong (account-level, no retry)
    ├── FormatUnavailable                a session cannot be written in the asked layout (Pyrogram without a user id)
    ├── SecretUnreadable                 a stored ciphertext does not decrypt here (wrong key or moved row)
    └── ConfigurationError               the service cannot start as configured (message names the settings)

Messages never contain a session string, a password or a key; they may name the phone number.
"""

from __future__ import annotations


class TgSessionsError(Exception):
    """Base of every tgsessions error."""

    code = "error"

    def __init__(self, message: str, *, phone: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.phone = phone


class InvalidInput(TgSessionsError):
    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, phone: str | None = None) -> None:
        super().__init__(message, phone=phone)
        self.field = field


class SessionRejected(InvalidInput):
    code = "session_rejected"


class UnknownSessionFormat(InvalidInput):
    code = "unknown_session_format"


class UnknownPhone(TgSessionsError):
    code = "unknown_phone"

    def __init__(self, phone: str) -> None:
        super().__init__(f"no account with phone {phone}", phone=phone)


class AccountExists(TgSessionsError):
    code = "account_exists"

    def __init__(self, phone: str) -> None:
        super().__init__(f"an account with phone {phone} already exists", phone=phone)


class AccountUnavailable(TgSessionsError):
    code = "account_unavailable"


class AccountUnrecoverable(AccountUnavailable):
    code = "account_unrecoverable"

    def __init__(self, phone: str) -> None:
        super().__init__(
            f"account {phone} is unrecoverable: no live session is left; add a new session with update",
            phone=phone,
        )


class AccountBanned(AccountUnavailable):
    code = "account_banned"

    def __init__(self, phone: str, reason: str) -> None:
        super().__init__(f"account {phone} is {reason} by Telegram", phone=phone)
        self.reason = reason


class RetryLater(TgSessionsError):
    code = "retry_later"

    def __init__(self, message: str, *, retry_after: float, phone: str | None = None) -> None:
        super().__init__(message, phone=phone)
        self.retry_after = max(1.0, float(retry_after))


class TelegramUnavailable(RetryLater):
    code = "telegram_unavailable"

    def __init__(
        self, message: str, *, retry_after: float, phone: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after, phone=phone)
        self.reason = reason or self.code  # where known, "<step>:<Telegram's error name>" (send_code:FLOOD_WAIT_X)


class LoginBudgetSpent(RetryLater):
    code = "login_budget_spent"


class RateLimited(RetryLater):
    code = "rate_limited"


class StorageUnavailable(RetryLater):
    code = "storage_unavailable"


class ConcurrentModification(TgSessionsError):
    code = "concurrent_modification"


class NotFound(TgSessionsError):
    code = "not_found"


class Unauthenticated(TgSessionsError):
    code = "unauthenticated"


class Forbidden(TgSessionsError):
    code = "forbidden"


class MaintenanceRunning(TgSessionsError):
    code = "maintenance_running"


class MintFailed(TgSessionsError):
    code = "mint_failed"

    def __init__(self, message: str, *, reason: str, transient: bool, phone: str | None = None) -> None:
        super().__init__(message, phone=phone)
        self.reason = reason
        self.transient = transient


class TwoFactorInvalid(MintFailed):
    code = "two_factor_invalid"

    def __init__(self, message: str, *, phone: str | None = None) -> None:
        super().__init__(message, reason="two_factor_invalid", transient=False, phone=phone)


class FormatUnavailable(TgSessionsError):
    code = "format_unavailable"


class SecretUnreadable(TgSessionsError):
    code = "secret_unreadable"


class ConfigurationError(TgSessionsError):
    code = "configuration_error"
