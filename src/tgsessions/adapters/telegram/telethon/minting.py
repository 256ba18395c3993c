"""Minting a new authorization from a live source session, with raw requests only (no update handling).

QR login token first: the new client exports a token, the source accepts it, the new client exports again and gets
``LoginTokenSuccess`` (or ``LoginTokenMigrateTo``: switch DC, import the token). Token errors retry the QR flow once,
then the login code path: the new client sends a code, the source reads it from a 777000 message dated after the
send (a 5–6 digit pattern on the raw text, stale codes ignored), the same client signs in with the same hash. 2FA
(``SessionPasswordNeededError``) is answered with the account's stored password through SRP.

Once the source has accepted a token or a sign-in was sent, a new authorization may exist; if the mint then fails or
is cancelled, the new client logs itself out (shielded, bounded) so no orphan device stays on the account.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telethon import errors
from telethon.password import compute_check
from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.clients import ClientFactory, TelethonConfig
from tgsessions.adapters.telegram.telethon.pool import ConnectionPool, disconnect
from tgsessions.domain.errors import MintFailed, TelegramUnavailable, TwoFactorInvalid
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Clock, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret

log = logging.getLogger(__name__)

TELEGRAM_SERVICE_USER = 777000
CODE_PATTERN = re.compile(r"(?<!\d)(\d{5,6})(?!\d)")
QR_ERRORS = (errors.AuthTokenExpiredError, errors.AuthTokenAlreadyAcceptedError, errors.AuthTokenInvalidError)
MIGRATE_ERRORS = (errors.PhoneMigrateError, errors.NetworkMigrateError, errors.UserMigrateError)
PASSWORD_FLOOD_RETRY = 24 * 3600.0
QR_ATTEMPTS = 2
TOKEN_POLLS = 3


class QrUnfinished(Exception):
    """The QR flow did not end in LoginTokenSuccess."""


@dataclass
class Progress:
    method: str = "qr"
    exposed: bool = False  # a new authorization may exist at Telegram from here on


async def invoke(client: Any, request: Any, seconds: float) -> Any:
    """One raw request, bounded."""
    async with asyncio.timeout(seconds):
        return await client(request)


class Minter:
    def __init__(self, config: TelethonConfig, factory: ClientFactory, pool: ConnectionPool, clock: Clock) -> None:
        self.config = config
        self.factory = factory
        self.pool = pool
        self.clock = clock
        self._cleanups: set[asyncio.Task[None]] = set()

    async def mint(
        self, source: Any, access: SessionAccess, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        """Mint from the connected ``source`` client (already checked to be ``access.phone``'s own session)."""
        before = await self._hashes(source)
        new = self.factory.fresh(new_identity, access.proxy)
        progress = Progress()
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await new.connect()
            await self._login(source, new, access.phone, two_fa, progress)
            string = new.session.save()
            if not string:
                raise MintFailed(
                    f"the new session of account {access.phone} has no auth key",
                    reason="no_auth_key",
                    transient=True,
                    phone=access.phone,
                )
            auth_hash = await self._new_hash(source, before, new_identity)
        except BaseException:
            await self._discard(new, log_out=progress.exposed)
            raise
        await self.pool.close(new)
        return MintedSession(Secret(string), progress.method, new_identity, auth_hash=auth_hash)

    # -- the login ------------------------------------------------------------------------------------------------

    async def _login(self, source: Any, new: Any, phone: str, two_fa: Secret | None, progress: Progress) -> None:
        try:
            for attempt in range(QR_ATTEMPTS):
                try:
                    await self._qr(source, new, progress)
                    return
                except (*QR_ERRORS, QrUnfinished) as exc:
                    log.info("QR login for %s failed (%s), attempt %d", phone, type(exc).__name__, attempt + 1)
            progress.method = "code"
            await self._code(source, new, phone, progress)
        except errors.SessionPasswordNeededError:
            await self._password(new, phone, two_fa)

    async def _qr(self, source: Any, new: Any, progress: Progress) -> None:
        export = functions.auth.ExportLoginTokenRequest(new.api_id, self.config.api_hash.reveal(), except_ids=[])
        result = await self._call_new(new, export)
        if isinstance(result, types.auth.LoginToken):
            progress.exposed = True
            await self._call(source, functions.auth.AcceptLoginTokenRequest(result.token))
            for _ in range(TOKEN_POLLS):  # the source's accept reaches the new client's DC quickly, not instantly
                result = await self._call_new(new, export)
                if not isinstance(result, types.auth.LoginToken):
                    break
                await asyncio.sleep(0.5)
        if isinstance(result, types.auth.LoginTokenMigrateTo):
            await self._switch_dc(new, result.dc_id)
            result = await self._call_new(new, functions.auth.ImportLoginTokenRequest(result.token))
        if not isinstance(result, types.auth.LoginTokenSuccess):
            raise QrUnfinished(type(result).__name__)

    async def _code(self, source: Any, new: Any, phone: str, progress: Progress) -> None:
        send = functions.auth.SendCodeRequest(phone, new.api_id, self.config.api_hash.reveal(), types.CodeSettings())
        sent_at = self.clock.now()
        try:
            sent = await self._call_new(new, send)
        except MIGRATE_ERRORS as exc:
            await self._switch_dc(new, exc.new_dc)
            sent_at = self.clock.now()
            sent = await self._call_new(new, send)
        if isinstance(sent, types.auth.SentCodeSuccess):
            progress.exposed = True
            return
        code = await self._read_code(source, phone, sent_at)
        progress.exposed = True
        await self._call_new(new, functions.auth.SignInRequest(phone, sent.phone_code_hash, code))

    async def _read_code(self, source: Any, phone: str, sent_at: datetime) -> str:
        """The code of the newest 777000 message dated after ``sent_at`` (minus clock skew); polls a few times."""
        [service] = await self._call(
            source, functions.users.GetUsersRequest([types.InputUser(TELEGRAM_SERVICE_USER, 0)])
        )
        peer = types.InputPeerUser(TELEGRAM_SERVICE_USER, getattr(service, "access_hash", 0) or 0)
        not_before = sent_at - timedelta(seconds=self.config.code_clock_skew)
        for attempt in range(self.config.code_poll_attempts):
            history = await self._call(source, functions.messages.GetHistoryRequest(peer, 0, None, 0, 10, 0, 0, 0))
            for message in getattr(history, "messages", []):
                date = getattr(message, "date", None)
                if not isinstance(message, types.Message) or date is None or date < not_before:
                    continue
                found = CODE_PATTERN.search(message.message or "")
                if found:
                    return found.group(1)
            if attempt + 1 < self.config.code_poll_attempts:
                await asyncio.sleep(self.config.code_poll_interval)
        raise MintFailed(
            f"no login code from Telegram (777000) reached a session of account {phone}",
            reason="code_not_received",
            transient=True,
            phone=phone,
        )

    async def _password(self, new: Any, phone: str, two_fa: Secret | None) -> None:
        if two_fa is None:
            raise TwoFactorInvalid(
                f"no 2FA password stored for account {phone}, but Telegram asks for one", phone=phone
            )
        password = await self._call_new(new, functions.account.GetPasswordRequest())
        try:
            check = await asyncio.to_thread(compute_check, password, two_fa.reveal())
        except ValueError:
            raise MintFailed(
                f"Telegram's 2FA parameters for account {phone} failed the safety checks",
                reason="two_factor_parameters",
                transient=False,
                phone=phone,
            ) from None
        try:
            await self._call_new(new, functions.auth.CheckPasswordRequest(check))
        except errors.PasswordHashInvalidError:
            raise TwoFactorInvalid("stored 2FA password is wrong", phone=phone) from None
        except errors.PhonePasswordFloodError:
            raise TelegramUnavailable(
                f"too many 2FA attempts for account {phone}; Telegram blocks password checks for a while",
                retry_after=PASSWORD_FLOOD_RETRY,
                phone=phone,
            ) from None

    # -- helpers --------------------------------------------------------------------------------------------------

    async def _call(self, client: Any, request: Any) -> Any:
        return await invoke(client, request, self.config.request_timeout)

    async def _call_new(self, client: Any, request: Any) -> Any:
        """A request of the new client: its key being refused says nothing about the source."""
        try:
            return await self._call(client, request)
        except (errors.UnauthorizedError, errors.AuthKeyError) as exc:
            if isinstance(exc, errors.SessionPasswordNeededError | errors.PhonePasswordFloodError):
                raise
            raise MintFailed(
                f"Telegram refused the new login ({type(exc).__name__})",
                reason="new_session_refused",
                transient=True,
            ) from None

    async def _switch_dc(self, client: Any, dc_id: int) -> None:
        async with asyncio.timeout(self.config.connect_timeout + self.config.request_timeout):
            await client._switch_dc(dc_id)

    async def _hashes(self, source: Any) -> list[tuple[int, str]] | None:
        """(hash, device model) of the source's other authorizations; None when Telegram would not list them."""
        try:
            listed = await self._call(source, functions.account.GetAuthorizationsRequest())
        except errors.RPCError:
            return None
        return [(a.hash, a.device_model) for a in listed.authorizations if not a.current]

    async def _new_hash(
        self, source: Any, before: list[tuple[int, str]] | None, identity: ClientIdentity
    ) -> int | None:
        """The new authorization's hash as the source sees it (a session lists itself with hash 0)."""
        after = await self._hashes(source)
        if before is None or after is None:
            return None
        known = {h for h, _ in before}
        new = [(h, device) for h, device in after if h not in known and h != 0]
        mine = [h for h, device in new if device == identity.device_model] or [h for h, _ in new]
        return mine[0] if len(mine) == 1 else None

    async def _discard(self, new: Any, *, log_out: bool) -> None:
        """Log the new client out when an authorization may exist, then disconnect it: shielded and bounded."""

        async def run() -> None:
            try:
                if log_out and new.is_connected():
                    async with asyncio.timeout(self.config.cleanup_timeout):
                        await new(functions.auth.LogOutRequest())
            except Exception as exc:  # refused while the password is pending, gone, unreachable: reconciliation
                # (service/reconciliation.py) resets what is left from a mature session
                log.info("logging out an unfinished mint failed (%s): left for reconciliation", type(exc).__name__)
            finally:
                async with asyncio.timeout(self.config.cleanup_timeout):
                    await disconnect(new)

        task = asyncio.get_running_loop().create_task(run())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        try:
            await asyncio.shield(task)
        except Exception as exc:
            log.debug("cleaning up an unfinished mint: %s", type(exc).__name__)
