"""``TelethonGateway``: the TelegramGateway port over Telethon (``backend = "telethon"``).

Every call: the account's flood gate first (a flood wait Telegram gave is honoured without asking again), then the
string is parsed (a malformed one never reaches Telegram), then the string's one pooled connection is borrowed and
raw requests are made, each bounded by ``request_timeout``. ``validate`` returns a verdict for every Telegram outcome;
the other calls raise domain errors (see outcomes.py). A caller's cancellation is never swallowed. With
``flood_waits`` (a Redis board, when configured) a flood wait one instance met is honoured by every instance.

The session's own phone is checked (``users.GetUsers([InputUserSelf()])``) before a session is used to mint, revoke
or list: a string of another account is not a session of this one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from telethon import TelegramClient, errors
from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.clients import ClientFactory, MalformedSession, TelethonConfig, parse_session
from tgsessions.adapters.telegram.telethon.login_flow import LoginFlow
from tgsessions.adapters.telegram.telethon.outcomes import (
    LoginStepFailed,
    domain_error,
    flood_seconds,
    is_login_request,
    login_error,
    rpc_name,
    session_dead_reason,
    verdict_for,
)
from tgsessions.adapters.telegram.telethon.pool import ConnectionPool, FloodGates, account_key, session_key
from tgsessions.adapters.telegram.telethon.raw_requests import invoke
from tgsessions.domain.errors import MintFailed, TelegramUnavailable, TgSessionsError
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, Clock, DeadlineBoard, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason, Verdict

log = logging.getLogger(__name__)

FREEZE_KEYS = ("freeze_since_date", "freeze_until_date")


class NotOwnSession(Exception):
    def __init__(self) -> None:
        super().__init__("the session belongs to another phone")


class TelethonGateway:
    backend = "telethon"

    def __init__(
        self,
        config: TelethonConfig,
        *,
        clock: Clock,
        client_class: type[Any] = TelegramClient,
        factory: ClientFactory | None = None,
        flood_waits: DeadlineBoard | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.factory = factory or ClientFactory(config, client_class)
        self.pool = ConnectionPool(
            self.factory,
            idle_seconds=config.pool_idle_seconds,
            max_concurrency=config.max_concurrency,
            per_account_concurrency=config.per_account_concurrency,
            connect_timeout=config.connect_timeout,
            close_timeout=config.cleanup_timeout,
        )
        self.gates = FloodGates(clock, flood_waits)  # shared by every instance when ``flood_waits`` is given
        self.minter = LoginFlow(config, self.factory, self.pool, clock)

    def __repr__(self) -> str:
        return f"TelethonGateway(endpoint={self.config.endpoint!r}, pool={self.pool!r})"

    async def aclose(self) -> None:
        """Close pooled connections (on shutdown)."""
        await self.pool.aclose()

    # -- validate -----------------------------------------------------------------------------------------------

    async def validate(self, access: SessionAccess) -> Verdict:
        wait = await self.gates.remaining(access.phone)
        if wait is not None:
            return Verdict.unknown(Reason.FLOOD_WAIT, self.clock.now(), retry_after=wait)
        try:
            parse_session(access.string)
        except MalformedSession:
            return Verdict.dead(Reason.MALFORMED, self.clock.now())
        try:
            async with self.pool.connection(access) as lease:
                own, user_id = await self._own_user(lease.client, access.phone)
                if not own:
                    lease.discard()
                    return Verdict.dead(Reason.PHONE_MISMATCH, self.clock.now())
                config = await self._call(lease.client, functions.help.GetAppConfigRequest(hash=0))
                return Verdict.alive(self.clock.now(), frozen=is_frozen(config), user_id=user_id)
        except TgSessionsError:
            raise  # configuration (a bad proxy), not a Telegram outcome
        except Exception as exc:
            verdict = verdict_for(exc, self.clock.now())
            await self._note_flood(access.phone, exc)
            log.info(
                "session %s of %s: %s (%s)",
                session_key(access.string)[:12],
                access.phone,
                verdict.reason,
                type(exc).__name__,
            )
            return verdict

    # -- mint ---------------------------------------------------------------------------------------------------

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        phone = source.phone
        await self._check_gate(phone, "api")
        self._require_parsable(source)
        try:
            async with self.pool.connection(source) as lease:
                await self._require_own(lease.client, phone)  # a dead source or account shows here first
                await self._check_gate(phone, "login")
                return await self.minter.mint(lease.client, source, new_identity, two_fa)
        except TgSessionsError:
            raise
        except LoginStepFailed as failed:
            await self._note_flood(phone, failed.error)
            log.info("minting for %s refused at %s", phone, failed)
            raise login_error(failed.error, phone, failed.step, transient=failed.transient) from None
        except Exception as exc:
            await self._raise_translated(exc, phone, minting=True)

    # -- revoking, listing --------------------------------------------------------------------------------------

    async def log_out(self, access: SessionAccess) -> None:
        try:
            parse_session(access.string)
        except MalformedSession:
            return  # nothing Telegram knows of: nothing to log out
        await self._check_gate(access.phone, "api")
        try:
            async with self.pool.connection(access) as lease:
                await self._call(lease.client, functions.auth.LogOutRequest())
                lease.discard()
        except Exception as exc:
            if session_dead_reason(exc) is not None or isinstance(exc, errors.UserDeactivatedError):
                return  # already dead: counts as logged out
            await self._raise_translated(exc, access.phone)

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        phone = source.phone
        await self._check_gate(phone, "api")
        self._require_parsable(source)
        try:
            async with self.pool.connection(source) as lease:
                await self._require_own(lease.client, phone)
                try:
                    await self._call(lease.client, functions.account.ResetAuthorizationRequest(hash=auth_hash))
                except errors.HashInvalidError:
                    return  # no such authorization (any more): nothing to revoke
        except errors.FreshResetAuthorisationForbiddenError:
            raise MintFailed(
                f"a session of account {phone} younger than 24 h cannot reset other authorizations",
                reason="fresh_reset_forbidden",
                transient=False,
                phone=phone,
            ) from None
        except Exception as exc:
            await self._raise_translated(exc, phone)

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        await self._check_gate(access.phone, "api")
        self._require_parsable(access)
        try:
            async with self.pool.connection(access) as lease:
                await self._require_own(lease.client, access.phone)
                listed = await self._call(lease.client, functions.account.GetAuthorizationsRequest())
        except Exception as exc:
            await self._raise_translated(exc, access.phone)
        return [
            Authorization(
                hash=a.hash,
                device_model=a.device_model,
                app_version=a.app_version,
                created_at=as_utc(a.date_created),
                current=bool(a.current),
                password_pending=bool(getattr(a, "password_pending", False)),
            )
            for a in listed.authorizations
        ]

    # -- helpers ------------------------------------------------------------------------------------------------

    async def _call(self, client: Any, request: Any) -> Any:
        return await invoke(client, request, self.config.request_timeout)

    async def _is_own(self, client: Any, phone: str) -> bool:
        own, _user_id = await self._own_user(client, phone)
        return own

    async def _own_user(self, client: Any, phone: str) -> tuple[bool, int | None]:
        """Whether the session is of ``phone``, and its user id (None when Telegram gave none)."""
        users = await self._call(client, functions.users.GetUsersRequest([types.InputUserSelf()]))
        me = users[0] if users else None
        if me is None or isinstance(me, types.UserEmpty):
            raise errors.AuthKeyUnregisteredError(request=None)
        user_id = getattr(me, "id", None)
        return self._same_phone(me, phone), user_id if isinstance(user_id, int) else None

    def _same_phone(self, me: Any, phone: str) -> bool:
        theirs = getattr(me, "phone", None)
        if not theirs:
            log.warning("Telegram did not tell the phone of a session of %s; not comparing", phone)
            return True
        return account_key(theirs) == account_key(phone)

    async def _require_own(self, client: Any, phone: str) -> None:
        if not await self._is_own(client, phone):
            raise NotOwnSession()

    def _require_parsable(self, access: SessionAccess) -> None:
        try:
            parse_session(access.string)
        except MalformedSession:
            _source_dead(access.phone, "the session string is malformed")

    async def _check_gate(self, phone: str, scope: str) -> None:
        wait = await self.gates.remaining(phone, scope)
        if wait is not None:
            what = "logins" if scope == "login" else "calls"
            raise TelegramUnavailable(
                f"Telegram asked to wait before more {what} for account {phone}; {wait:.0f} s left",
                retry_after=wait,
                phone=phone,
            )

    async def _note_flood(self, phone: str, exc: BaseException) -> None:
        seconds = flood_seconds(exc)
        if seconds is not None:
            await self.gates.record(phone, seconds, "login" if is_login_request(exc) else "api")

    async def _raise_translated(self, exc: Exception, phone: str, *, minting: bool = False) -> NoReturn:
        if isinstance(exc, TgSessionsError):
            raise exc
        if isinstance(exc, NotOwnSession):
            _source_dead(phone, "it belongs to another phone")
        await self._note_flood(phone, exc)
        log.info("Telegram call for %s failed: %s (%s)", phone, rpc_name(exc), type(exc).__name__)
        raise domain_error(exc, phone, minting=minting) from None


def _source_dead(phone: str, why: str) -> NoReturn:
    raise MintFailed(
        f"cannot use a session of account {phone}: {why}", reason="source_dead", transient=False, phone=phone
    ) from None


def is_frozen(config: Any) -> bool:
    """Whether help.getAppConfig carries freeze_since_date / freeze_until_date (a frozen account)."""
    value = getattr(config, "config", None)
    entries = getattr(value, "value", None)
    if not isinstance(entries, list):
        return False
    return any(getattr(entry, "key", None) in FREEZE_KEYS for entry in entries)


def as_utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
