"""``LoginFlow``: minting a new authorization from a live source session, with raw requests only (no update
handling).

The new client logs in by the methods of ``METHODS`` (login_table.py), QR login token first (qr_login.py), then the
login code (code_login.py); 2FA (``SessionPasswordNeededError``) is answered with the account's stored password
through SRP (two_factor.py). What a refused step means is ``LOGIN_TABLE``: an error saying QR login is not possible
falls back to the login code in the same mint, and the account is remembered as "no QR" for ``QR_REFUSAL_MEMORY``
(in memory).

Every failure names its step (``STEPS``) and Telegram's error name: a refusal leaves the flow as
``LoginStepFailed``, which the gateway translates (outcomes.login_error) into ``MintFailed(reason="send_code:
PHONE_NUMBER_FLOOD")``, TelegramUnavailable or AccountBanned.

Once the source has accepted a token or a sign-in was sent, a new authorization may exist; if the mint then fails or
is cancelled, the new client logs itself out (shielded, bounded) so no orphan device stays on the account.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from telethon import errors
from telethon.tl import functions

from tgsessions.adapters.telegram.telethon.clients import ClientFactory, TelethonConfig
from tgsessions.adapters.telegram.telethon.code_login import log_in_by_code
from tgsessions.adapters.telegram.telethon.login_table import (
    CONNECT,
    LIST_AUTHORIZATIONS,
    METHODS,
    PASSWORD,
    Decision,
    LoginProgress,
    decide,
)
from tgsessions.adapters.telegram.telethon.outcomes import LoginStepFailed, rpc_name
from tgsessions.adapters.telegram.telethon.pool import ConnectionPool, account_key, disconnect
from tgsessions.adapters.telegram.telethon.qr_login import log_in_by_qr
from tgsessions.adapters.telegram.telethon.raw_requests import LoginRequests
from tgsessions.adapters.telegram.telethon.two_factor import check_password
from tgsessions.domain.errors import MintFailed, TgSessionsError
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Clock, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret

log = logging.getLogger(__name__)

QR_REFUSAL_MEMORY = timedelta(hours=24)  # an account whose QR login was refused logs in by code for this long


class LoginFlow:
    """Logs a fresh Telethon client in with the help of a source session of the same account."""

    def __init__(self, config: TelethonConfig, factory: ClientFactory, pool: ConnectionPool, clock: Clock) -> None:
        self.config = config
        self.factory = factory
        self.pool = pool
        self.clock = clock
        self.requests = LoginRequests(config)
        self._cleanups: set[asyncio.Task[None]] = set()
        self._qr_refused: dict[str, datetime] = {}  # account key -> until when its mints skip QR

    async def mint(
        self, source: Any, access: SessionAccess, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        """Mint from the connected ``source`` client (already checked to be ``access.phone``'s own session).

        Raises domain errors, or ``LoginStepFailed`` for a refused step (translated by the gateway)."""
        progress = LoginProgress(method=METHODS[0] if self.qr_allowed(access.phone) else METHODS[1])
        try:
            progress.step = LIST_AUTHORIZATIONS
            before = await self._hashes(source)
            new = self.factory.fresh(new_identity, access.proxy)
            try:
                progress.step = CONNECT
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
                progress.step = LIST_AUTHORIZATIONS
                auth_hash = await self._new_hash(source, before, new_identity)
            except BaseException:
                await self._discard(new, log_out=progress.exposed)
                raise
        except (TgSessionsError, LoginStepFailed):
            raise
        except Exception as exc:
            decision = decide(exc, progress.method)
            log.info(
                "minting for %s failed at %s (%s, %s): %s",
                access.phone,
                progress.step,
                progress.method,
                rpc_name(exc),
                decision.value,
            )
            raise LoginStepFailed(progress.step, exc, transient=decision is Decision.TRANSIENT) from None
        await self.pool.close(new)
        return MintedSession(Secret(string), progress.method, new_identity, auth_hash=auth_hash)

    # -- QR refusals, remembered --------------------------------------------------------------------------------

    def qr_allowed(self, phone: str) -> bool:
        until = self._qr_refused.get(account_key(phone))
        if until is None:
            return True
        if until <= self.clock.now():
            del self._qr_refused[account_key(phone)]
            return True
        return False

    def _refuse_qr(self, phone: str, step: str, exc: BaseException) -> None:
        self._qr_refused[account_key(phone)] = self.clock.now() + QR_REFUSAL_MEMORY
        log.info(
            "QR login for %s refused at %s (%s): logging in by code, and skipping QR for %.0f h",
            phone,
            step,
            rpc_name(exc),
            QR_REFUSAL_MEMORY / timedelta(hours=1),
        )

    # -- the login ------------------------------------------------------------------------------------------------

    async def _login(self, source: Any, new: Any, phone: str, two_fa: Secret | None, progress: LoginProgress) -> None:
        try:
            if progress.method == "qr":
                try:
                    await log_in_by_qr(self.requests, source, new, progress)
                    return
                except errors.SessionPasswordNeededError:
                    raise
                except Exception as exc:
                    if decide(exc, "qr") is not Decision.FALL_BACK:
                        raise
                    self._refuse_qr(phone, progress.step, exc)
            progress.method = "code"
            await log_in_by_code(self.requests, self.clock, source, new, phone, progress)
        except errors.SessionPasswordNeededError:
            progress.step = PASSWORD
            await check_password(self.requests, new, phone, two_fa)

    # -- the new authorization, as the source lists it -----------------------------------------------------------

    async def _hashes(self, source: Any) -> list[tuple[int, str]] | None:
        """(hash, device model) of the source's other authorizations; None when Telegram would not list them."""
        try:
            listed = await self.requests.call(source, functions.account.GetAuthorizationsRequest())
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

    # -- an unfinished mint --------------------------------------------------------------------------------------

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
