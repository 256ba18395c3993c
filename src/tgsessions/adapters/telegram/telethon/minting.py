"""Minting a new authorization from a live source session, with raw requests only (no update handling).

The methods are tried in the order of ``METHODS``, QR login token first: the new client exports a token, the source
accepts it, the new client exports again and gets ``LoginTokenSuccess`` (or ``LoginTokenMigrateTo``: switch DC,
import the token). What a refused step means is ``LOGIN_TABLE``, one row per error: an error saying QR login is not
possible (API_ID_PUBLISHED_FLOOD or API_ID_INVALID from ``auth.exportLoginToken``, the token errors, a QR flow that
does not finish in time) falls back to the login code in the same mint, and the account is remembered as "no QR" for
``QR_REFUSAL_MEMORY`` (in memory); flood waits, dead sources and anything else fail the mint (transient or not).

The login code: the new client sends a code; the source finds the 777000 service chat (``users.getUsers`` first, never
trusted blindly, then ``messages.getDialogs``, which carries the chat's real access hash) and reads its history for
a message dated after the send (a 5–6 digit pattern on the raw text, stale codes ignored); the same client signs in
with the same hash. 2FA (``SessionPasswordNeededError``) is answered with the account's stored password through SRP.

Every failure names its step (``STEPS``) and Telegram's error name: a refusal leaves the minter as
``LoginStepFailed``, which the gateway translates (outcomes.login_error) into ``MintFailed(reason="send_code:
PHONE_NUMBER_FLOOD")``, TelegramUnavailable or AccountBanned.

Once the source has accepted a token or a sign-in was sent, a new authorization may exist; if the mint then fails or
is cancelled, the new client logs itself out (shielded, bounded) so no orphan device stays on the account.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from telethon import errors
from telethon.password import compute_check
from telethon.tl import functions, types

from tgsessions.adapters.telegram.telethon.clients import ClientFactory, TelethonConfig
from tgsessions.adapters.telegram.telethon.outcomes import (
    ACCOUNT_DEAD,
    FLOOD,
    SERVER,
    SESSION_DEAD,
    LoginAnswer,
    LoginStepFailed,
    rpc_name,
)
from tgsessions.adapters.telegram.telethon.pool import ConnectionPool, account_key, disconnect
from tgsessions.domain.errors import MintFailed, TelegramUnavailable, TgSessionsError, TwoFactorInvalid
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Clock, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret

log = logging.getLogger(__name__)

TELEGRAM_SERVICE_USER = 777000
CODE_PATTERN = re.compile(r"(?<!\d)(\d{5,6})(?!\d)")
MIGRATE_ERRORS = (errors.PhoneMigrateError, errors.NetworkMigrateError, errors.UserMigrateError)
PASSWORD_FLOOD_RETRY = 24 * 3600.0
TOKEN_POLLS = 3
QR_REFUSAL_MEMORY = timedelta(hours=24)  # an account whose QR login was refused logs in by code for this long
DIALOGS_LIMIT = 100  # the service chat has just received the code: it is among the newest dialogs

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
class Progress:
    method: str = METHODS[0]
    step: str = CONNECT
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
        self._qr_refused: dict[str, datetime] = {}  # account key -> until when its mints skip QR

    async def mint(
        self, source: Any, access: SessionAccess, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        """Mint from the connected ``source`` client (already checked to be ``access.phone``'s own session).

        Raises domain errors, or ``LoginStepFailed`` for a refused step (translated by the gateway)."""
        progress = Progress(method=METHODS[0] if self.qr_allowed(access.phone) else METHODS[1])
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

    async def _login(self, source: Any, new: Any, phone: str, two_fa: Secret | None, progress: Progress) -> None:
        try:
            if progress.method == "qr":
                try:
                    await self._qr(source, new, progress)
                    return
                except errors.SessionPasswordNeededError:
                    raise
                except Exception as exc:
                    if decide(exc, "qr") is not Decision.FALL_BACK:
                        raise
                    self._refuse_qr(phone, progress.step, exc)
            progress.method = "code"
            await self._code(source, new, phone, progress)
        except errors.SessionPasswordNeededError:
            progress.step = PASSWORD
            await self._password(new, phone, two_fa)

    async def _qr(self, source: Any, new: Any, progress: Progress) -> None:
        export = functions.auth.ExportLoginTokenRequest(new.api_id, self.config.api_hash.reveal(), except_ids=[])
        progress.step = EXPORT_TOKEN
        result = await self._call_new(new, export)
        if isinstance(result, types.auth.LoginToken):
            progress.exposed = True
            progress.step = ACCEPT_TOKEN
            await self._call(source, functions.auth.AcceptLoginTokenRequest(result.token))
            progress.step = EXPORT_TOKEN
            for _ in range(TOKEN_POLLS):  # the source's accept reaches the new client's DC quickly, not instantly
                result = await self._call_new(new, export)
                if not isinstance(result, types.auth.LoginToken):
                    break
                await asyncio.sleep(0.5)
        if isinstance(result, types.auth.LoginTokenMigrateTo):
            progress.step = IMPORT_TOKEN
            await self._switch_dc(new, result.dc_id)
            result = await self._call_new(new, functions.auth.ImportLoginTokenRequest(result.token))
        if not isinstance(result, types.auth.LoginTokenSuccess):
            raise QrUnfinished(type(result).__name__)

    async def _code(self, source: Any, new: Any, phone: str, progress: Progress) -> None:
        send = functions.auth.SendCodeRequest(phone, new.api_id, self.config.api_hash.reveal(), types.CodeSettings())
        progress.step = SEND_CODE
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
        phone_code_hash = getattr(sent, "phone_code_hash", None)
        if not isinstance(phone_code_hash, str):
            raise MintFailed(
                f"Telegram answered send_code for account {phone} with {type(sent).__name__}",
                reason="send_code:unexpected_answer",
                transient=True,
                phone=phone,
            )
        progress.step = READ_CODE
        code = await self._read_code(source, phone, sent_at)
        progress.exposed = True
        progress.step = SIGN_IN
        await self._call_new(new, functions.auth.SignInRequest(phone, phone_code_hash, code))

    async def _read_code(self, source: Any, phone: str, sent_at: datetime) -> str:
        """The code of the newest 777000 message dated after ``sent_at`` (minus clock skew); polls a few times.

        The service chat is looked up on every poll until found (a first code may create it)."""
        not_before = sent_at - timedelta(seconds=self.config.code_clock_skew)
        peer: types.InputPeerUser | None = None
        for attempt in range(self.config.code_poll_attempts):
            if attempt:
                await asyncio.sleep(self.config.code_poll_interval)
            if peer is None:
                peer = await self._service_peer(source)
                if peer is None:
                    continue
            history = await self._call(source, functions.messages.GetHistoryRequest(peer, 0, None, 0, 10, 0, 0, 0))
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

    async def _service_peer(self, source: Any) -> types.InputPeerUser | None:
        """777000 with its access hash: by id (a server need not resolve access hash 0), else from the dialogs."""
        try:
            users = await self._call(
                source, functions.users.GetUsersRequest([types.InputUser(TELEGRAM_SERVICE_USER, 0)])
            )
        except errors.BadRequestError as exc:  # USER_ID_INVALID, PEER_ID_INVALID, ...: the dialogs know it
            log.debug("users.getUsers for 777000 refused (%s); looking in the dialogs", rpc_name(exc))
            users = None
        found = service_user(users if isinstance(users, list) else [])
        if found is not None:
            return found
        dialogs = await self._call(
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
                reason="password:two_factor_parameters",
                transient=False,
                phone=phone,
            ) from None
        try:
            await self._call_new(new, functions.auth.CheckPasswordRequest(check))
        except errors.PasswordHashInvalidError:
            raise TwoFactorInvalid(
                "stored 2FA password is wrong (password:PASSWORD_HASH_INVALID)", phone=phone
            ) from None
        except errors.PhonePasswordFloodError:
            raise TelegramUnavailable(
                f"too many 2FA attempts for account {phone} (password:PHONE_PASSWORD_FLOOD); Telegram blocks "
                "password checks for a while",
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
            raise NewLoginRefused(exc) from None

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
