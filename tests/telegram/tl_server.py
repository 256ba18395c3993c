"""A Telegram at the TL level, in memory, on top of the simulated world; and a Telethon client wired to it.

``ScriptedClient`` is a real ``TelegramClient`` whose network is replaced: ``connect`` gives an empty session a fresh
random auth key, ``_call`` hands the real TL request object to :meth:`TLServer.handle`, which answers with real TL
result objects (``telethon.tl.types``) or raises real Telethon errors. Auth keys map to the world's authorizations,
so the world's fault injection (revoke, ban, deactivate, freeze, flood_wait, time_out, server_error, disable_qr,
latency) drives the answers, and logins through the server become real authorizations of the world (counted
against its login budget). Single requests can be refused by name with any Telegram error, built the way Telethon
builds it from the wire (:func:`rpc`): ``server.refuse("ExportLoginTokenRequest", rpc("API_ID_PUBLISHED_FLOOD"))``.
The 777000 service chat is scripted too: ``service_by_id`` (users.getUsers resolves 777000 with access hash 0, or
answers an empty vector), ``service_in_dialogs`` (messages.getDialogs lists the chat with its access hash, or not),
``deliver_codes`` / ``stale_codes`` / ``code_delay_polls`` (the fresh code message, an older one, a late one).
The server also counts open connections per auth key and, like Telegram, kills a key
that connects twice at once (AUTH_KEY_DUPLICATED).
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from telethon import TelegramClient, errors
from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.tl import types

from tests.telegram.tl_srp import Challenge, Verifier
from tgsessions.adapters.telegram.simulated import strings
from tgsessions.adapters.telegram.simulated.world import (
    SimAccount,
    SimAccountState,
    SimAuthorization,
    SimulatedServerError,
    SimulatedTelegram,
)
from tgsessions.adapters.telegram.telethon import TelethonConfig, TelethonGateway
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.secret import Secret

API_ID = 12345
API_HASH = "0123456789abcdef0123456789abcdef"
SERVICE_USER = 777000
SERVICE_HASH = 0x5EC12E7
HOME_DC = 2
Fault = Callable[[Any], BaseException] | str  # an error factory taking the request, or "hang"

KINDS = {
    "GetUsersRequest": "validate",
    "GetAppConfigRequest": "validate",
    "ExportLoginTokenRequest": "mint_qr",
    "AcceptLoginTokenRequest": "mint_qr",
    "ImportLoginTokenRequest": "mint_qr",
    "SendCodeRequest": "mint_code",
    "GetHistoryRequest": "mint_code",
    "GetDialogsRequest": "mint_code",
    "SignInRequest": "mint_code",
    "GetPasswordRequest": "mint_2fa",
    "CheckPasswordRequest": "mint_2fa",
    "LogOutRequest": "log_out",
    "ResetAuthorizationRequest": "revoke_other",
    "GetAuthorizationsRequest": "authorizations",
}


def rpc(message: str, code: int = 400) -> Callable[[Any], BaseException]:
    """A fault: the error Telethon raises when Telegram answers ``rpc_error`` (code, message) to the request."""
    return lambda request: rpc_message_to_error(types.RpcError(code, message), request)


class ScriptedClient(TelegramClient):  # type: ignore[misc]
    """A real Telethon client answered in memory by :attr:`server` (bind one with :meth:`TLServer.client_class`)."""

    server: ClassVar[TLServer]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.built_with = kwargs
        self.scripted_connected = False

    @property
    def key(self) -> bytes:
        return bytes(self.session.auth_key.key)

    async def connect(self) -> None:
        if self.scripted_connected:
            return
        if not self.session.server_address:
            self.session.set_dc(HOME_DC, strings.DC_ADDRESSES[HOME_DC], strings.PORT)
        if self.session.auth_key is None:  # what the DH exchange with a new DC gives a client
            self.session.auth_key = AuthKey(os.urandom(strings.AUTH_KEY_BYTES))
        await self.server.on_connect(self)
        self.scripted_connected = True

    def is_connected(self) -> bool:
        return self.scripted_connected

    async def disconnect(self) -> None:
        if self.scripted_connected:
            self.scripted_connected = False
            self.server.on_disconnect(self)

    async def _call(self, sender: Any, request: Any, ordered: bool = False, flood_sleep_threshold: Any = None) -> Any:
        if not self.scripted_connected:
            raise ConnectionError("not connected")
        return await self.server.handle(self, request)

    async def _switch_dc(self, new_dc: int) -> None:
        await self.disconnect()
        self.session.set_dc(new_dc, self.server.dc_address(new_dc), strings.PORT)
        self.session.auth_key = None
        await self.connect()


@dataclass
class Login:
    """The login state of a not-yet-authorized auth key."""

    account: SimAccount | None = None
    token: bytes | None = None
    code: str | None = None
    code_hash: str | None = None
    password_needed: bool = False
    challenge: Challenge | None = None


@dataclass
class Token:
    owner: bytes
    expires: datetime
    account: SimAccount | None = None


@dataclass
class ServiceMessage:
    id: int
    date: datetime
    text: str
    visible_after_polls: int = 0


class TLServer:
    def __init__(self, world: SimulatedTelegram, *, migrate: bool = True, current_hash_zero: bool = True) -> None:
        self.world = world
        self.clock = world.clock
        self.migrate = migrate  # answer LoginTokenMigrateTo / PHONE_MIGRATE when the account lives on another DC
        self.current_hash_zero = current_hash_zero  # like Telegram: a session lists itself with hash 0
        self.requests: Counter[str] = Counter()
        self.live: Counter[bytes] = Counter()
        self.max_live: Counter[bytes] = Counter()
        self.duplicates = 0
        self.code_delay_polls = 0  # GetHistory calls before a fresh code message shows up
        self.stale_codes = True  # an older 777000 message with another code is always there
        self.deliver_codes = True  # send_code puts the fresh code into the 777000 chat
        self.service_by_id = True  # users.getUsers([InputUser(777000, 0)]) resolves it (else: an empty vector)
        self.service_in_dialogs = True  # messages.getDialogs lists the 777000 chat (with its access hash)
        self.refusals: dict[str, list[Fault]] = {}
        self.always_refused: dict[str, Fault] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.connect_faults: dict[str, list[Fault]] = {}
        self.sent_codes: list[str] = []
        self._logins: dict[bytes, Login] = {}
        self._tokens: dict[bytes, Token] = {}
        self._history: dict[str, list[ServiceMessage]] = {}
        self._verifiers: dict[tuple[str, str], Verifier] = {}

    def __repr__(self) -> str:
        return f"TLServer({self.world!r})"

    # -- wiring ---------------------------------------------------------------------------------------------------

    def client_class(self) -> type[ScriptedClient]:
        return type("BoundScriptedClient", (ScriptedClient,), {"server": self})

    def config(self, **overrides: Any) -> TelethonConfig:
        values: dict[str, Any] = {
            "api_id": API_ID,
            "api_hash": Secret(API_HASH),
            "connect_timeout": 2.0,
            "request_timeout": 2.0,
            "code_poll_interval": 0.01,
            "code_poll_attempts": 5,
            "cleanup_timeout": 1.0,
        }
        return TelethonConfig(**(values | overrides))

    def gateway(self, **overrides: Any) -> TelethonGateway:
        return TelethonGateway(self.config(**overrides), clock=self.clock, client_class=self.client_class())

    def fail(self, phone: str, fault: Fault, *, calls: int = 1) -> None:
        """The next ``calls`` requests of ``phone``'s clients raise ``fault(request)`` (or hang)."""
        self.faults.setdefault(self.world.normalise(phone), []).extend([fault] * calls)

    def refuse(self, request_name: str, fault: Fault, *, calls: int | None = 1) -> None:
        """The next ``calls`` requests named ``request_name`` (every one: ``calls=None``), of any client, raise
        ``fault(request)``, before the account's own faults and flood waits."""
        if calls is None:
            self.always_refused[request_name] = fault
        else:
            self.refusals.setdefault(request_name, []).extend([fault] * calls)

    def fail_connect(self, phone: str, fault: Fault, *, calls: int = 1) -> None:
        self.connect_faults.setdefault(self.world.normalise(phone), []).extend([fault] * calls)

    @staticmethod
    def dc_address(dc_id: int) -> str:
        return strings.DC_ADDRESSES.get(dc_id, f"10.0.0.{dc_id}")

    # -- connections ----------------------------------------------------------------------------------------------

    async def on_connect(self, client: ScriptedClient) -> None:
        await self._apply(self.connect_faults, self.phone_of(client), None)
        if self.live[client.key] > 0:  # the same key from two connections at once: Telegram kills it
            self.duplicates += 1
            auth = self.auth_of(client)
            if auth is not None:
                auth.alive = False
            raise errors.AuthKeyDuplicatedError(request=None)
        self.live[client.key] += 1
        self.max_live[client.key] = max(self.max_live[client.key], self.live[client.key])

    def on_disconnect(self, client: ScriptedClient) -> None:
        self.live[client.key] -= 1

    def auth_of(self, client: ScriptedClient) -> SimAuthorization | None:
        return self.world.find(client.session.save())

    def phone_of(self, client: ScriptedClient) -> str:
        auth = self.auth_of(client)
        if auth is not None:
            return auth.phone
        login = self._logins.get(client.key)
        return login.account.phone if login is not None and login.account is not None else ""

    # -- requests -------------------------------------------------------------------------------------------------

    async def handle(self, client: ScriptedClient, request: Any) -> Any:
        name = type(request).__name__
        self.requests[name] += 1
        phone = self.phone_of(client)
        try:
            await self.world.begin_call(KINDS.get(name, "other"), phone)
        except SimulatedServerError:
            raise errors.RpcCallFailError(request=request) from None
        if name in self.always_refused:
            self.refusals.setdefault(name, []).insert(0, self.always_refused[name])
        await self._apply(self.refusals, name, request)
        await self._apply(self.faults, phone, request)
        account = self.world.lookup_account(phone) if phone else None
        flood = self.world.flood_remaining(account) if account is not None else None
        if flood is not None:
            raise errors.FloodWaitError(request=request, capture=math.ceil(flood))
        handler = getattr(self, "_" + name.removesuffix("Request"), None)
        if handler is None:
            raise errors.BadRequestError(request, "METHOD_NOT_SCRIPTED", 400)
        return await handler(client, request)

    async def _apply(self, faults: dict[str, list[Fault]], key: str, request: Any) -> None:
        pending = faults.get(key) if key else None
        if not pending:
            return
        fault = pending.pop(0)
        if fault == "hang":
            await asyncio.Event().wait()
        assert callable(fault)
        raise fault(request)

    def authorized(self, client: ScriptedClient, request: Any) -> SimAuthorization:
        auth = self.auth_of(client)
        if auth is None or not auth.alive:
            raise errors.AuthKeyUnregisteredError(request=request)
        if auth.password_pending:  # signed in, the 2FA password not given yet: nothing but the password is allowed
            raise errors.SessionPasswordNeededError(request=request)
        state = self.world.account(auth.phone).state
        if state is SimAccountState.BANNED:
            raise errors.UserDeactivatedBanError(request=request)
        if state is SimAccountState.DEACTIVATED:
            raise errors.UserDeactivatedError(request=request)
        return auth

    def user(self, account: SimAccount, *, is_self: bool = True) -> types.User:
        return types.User(
            id=int(account.phone[-9:]), is_self=is_self, access_hash=7, first_name="Sim", phone=account.phone
        )

    # users / help
    async def _GetUsers(self, client: ScriptedClient, request: Any) -> list[Any]:
        auth = self.authorized(client, request)
        answer: list[Any] = []
        for wanted in request.id:
            if isinstance(wanted, types.InputUserSelf):
                answer.append(self.user(self.world.account(auth.phone)))
            elif getattr(wanted, "user_id", None) == SERVICE_USER and self.service_by_id:
                answer.append(self.service_user())
        return answer  # an id Telegram cannot resolve (access hash 0) is left out: possibly an empty vector

    @staticmethod
    def service_user() -> types.User:
        return types.User(id=SERVICE_USER, access_hash=SERVICE_HASH, first_name="Telegram", verified=True)

    async def _GetAppConfig(self, client: ScriptedClient, request: Any) -> types.help.AppConfig:
        auth = self.authorized(client, request)
        values = [types.JsonObjectValue("test", types.JsonBool(True))]
        if self.world.account(auth.phone).frozen:
            since = int(self.clock.now().timestamp()) - 3600
            values += [
                types.JsonObjectValue("freeze_since_date", types.JsonNumber(since)),
                types.JsonObjectValue("freeze_until_date", types.JsonNumber(since + 86400 * 30)),
            ]
        return types.help.AppConfig(hash=1, config=types.JsonObject(values))

    # QR login
    async def _ExportLoginToken(self, client: ScriptedClient, request: Any) -> Any:
        if request.api_id != API_ID or request.api_hash != API_HASH:
            raise errors.ApiIdInvalidError(request=request)
        login = self._logins.get(client.key)
        token = self._tokens.get(login.token) if login is not None and login.token is not None else None
        if token is not None and token.account is not None:
            if self.migrate and token.account.dc_id != client.session.dc_id:
                return types.auth.LoginTokenMigrateTo(dc_id=token.account.dc_id, token=login.token)  # type: ignore[union-attr]
            return types.auth.LoginTokenSuccess(authorization=self._complete(client, token.account, request))
        value = secrets.token_bytes(16)
        expires = self.clock.now() + timedelta(seconds=30)
        self._tokens[value] = Token(client.key, expires)
        self._logins[client.key] = Login(token=value)
        return types.auth.LoginToken(expires=expires, token=value)

    async def _AcceptLoginToken(self, client: ScriptedClient, request: Any) -> types.Authorization:
        auth = self.authorized(client, request)
        account = self.world.account(auth.phone)
        token = self._tokens.get(request.token)
        if token is None or not account.qr_enabled:
            raise errors.AuthTokenInvalidError(request=request)
        if token.expires < self.clock.now():
            raise errors.AuthTokenExpiredError(request=request)
        if token.account is not None:
            raise errors.AuthTokenAlreadyAcceptedError(request=request)
        self._spend_login(account, request)
        token.account = account
        login = self._logins.setdefault(token.owner, Login(token=request.token))
        login.account = account
        return self._authorization_entry(None, account, hash_=0)

    async def _ImportLoginToken(self, client: ScriptedClient, request: Any) -> Any:
        token = self._tokens.get(request.token)
        if token is None or token.account is None:
            raise errors.AuthTokenInvalidError(request=request)
        self._logins[client.key] = Login(account=token.account, token=request.token)
        return types.auth.LoginTokenSuccess(authorization=self._complete(client, token.account, request))

    # login code
    async def _SendCode(self, client: ScriptedClient, request: Any) -> types.auth.SentCode:
        account = self.world.lookup_account(request.phone_number)
        if account is None:
            raise errors.PhoneNumberInvalidError(request=request)
        if account.is_dead:
            raise errors.PhoneNumberBannedError(request=request)
        if self.migrate and account.dc_id != client.session.dc_id:
            raise errors.PhoneMigrateError(request=request, capture=account.dc_id)
        refused = self.world.login_refused_for(account)
        if refused is not None:
            raise errors.FloodWaitError(request=request, capture=math.ceil(refused))
        code, code_hash = f"{secrets.randbelow(90000) + 10000}", secrets.token_hex(8)
        self.sent_codes.append(code)
        self._logins[client.key] = Login(account=account, code=code, code_hash=code_hash)
        history = self._history.setdefault(account.phone, [])
        now = self.clock.now()
        if self.stale_codes:
            stale = f"{(int(code) + 1) % 90000 + 10000}"
            history.insert(0, ServiceMessage(len(history) + 1, now - timedelta(minutes=10), f"Login code: {stale}."))
        if self.deliver_codes:
            history.insert(
                0,
                ServiceMessage(
                    len(history) + 1,
                    now,
                    f"Login code: {code}. Do not give this code to anyone, even if they say they are from Telegram!",
                    self.code_delay_polls,
                ),
            )
        return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=5), phone_code_hash=code_hash)

    async def _GetHistory(self, client: ScriptedClient, request: Any) -> types.messages.Messages:
        auth = self.authorized(client, request)
        peer = request.peer
        if not isinstance(peer, types.InputPeerUser) or (peer.user_id, peer.access_hash) != (
            SERVICE_USER,
            SERVICE_HASH,
        ):
            raise errors.PeerIdInvalidError(request=request)
        shown = []
        for message in sorted(self._history.get(auth.phone, []), key=lambda m: m.date, reverse=True):
            if message.visible_after_polls > 0:
                message.visible_after_polls -= 1
                continue
            shown.append(
                types.Message(
                    id=message.id,
                    peer_id=types.PeerUser(SERVICE_USER),
                    date=message.date,
                    message=message.text,
                    from_id=types.PeerUser(SERVICE_USER),
                )
            )
        return types.messages.Messages(
            messages=shown[: request.limit], topics=[], chats=[], users=[self.service_user()]
        )

    async def _GetDialogs(self, client: ScriptedClient, request: Any) -> types.messages.Dialogs:
        """A friend's chat, and the 777000 chat when ``service_in_dialogs`` (its top message, its access hash)."""
        auth = self.authorized(client, request)
        friend = types.User(id=424242, access_hash=0x1234, first_name="Friend")
        chats: list[tuple[types.User, list[ServiceMessage]]] = [
            (friend, [ServiceMessage(1, self.clock.now() - timedelta(days=2), "hi")])
        ]
        if self.service_in_dialogs:
            history = self._history.get(auth.phone) or [ServiceMessage(1, self.clock.now() - timedelta(days=9), "hi")]
            chats.insert(0, (self.service_user(), history))
        dialogs, messages = [], []
        for user, history in chats[: request.limit]:
            top = max(history, key=lambda m: m.date)
            dialogs.append(
                types.Dialog(
                    peer=types.PeerUser(user.id),
                    top_message=top.id,
                    read_inbox_max_id=top.id,
                    read_outbox_max_id=0,
                    unread_count=0,
                    unread_mentions_count=0,
                    unread_reactions_count=0,
                    unread_poll_votes_count=0,
                    notify_settings=types.PeerNotifySettings(),
                )
            )
            messages.append(types.Message(id=top.id, peer_id=types.PeerUser(user.id), date=top.date, message=top.text))
        return types.messages.Dialogs(
            dialogs=dialogs, messages=messages, chats=[], users=[user for user, _ in chats[: request.limit]]
        )

    async def _SignIn(self, client: ScriptedClient, request: Any) -> types.auth.Authorization:
        login = self._logins.get(client.key)
        if login is None or login.account is None or login.code_hash != request.phone_code_hash:
            raise errors.PhoneCodeExpiredError(request=request)
        if login.account.phone != self.world.normalise(request.phone_number):
            raise errors.PhoneNumberInvalidError(request=request)
        self._spend_login(login.account, request)
        if request.phone_code != login.code:
            raise errors.PhoneCodeInvalidError(request=request)
        return self._complete(client, login.account, request)

    # 2FA
    async def _GetPassword(self, client: ScriptedClient, request: Any) -> types.account.Password:
        login = self._logins.get(client.key)
        if login is None or login.account is None or login.account.two_fa is None:
            raise errors.AuthKeyUnregisteredError(request=request)
        verifier = self._verifier(login.account)
        login.challenge = Challenge.new(verifier)
        return login.challenge.password(verifier)

    async def _CheckPassword(self, client: ScriptedClient, request: Any) -> types.auth.Authorization:
        login = self._logins.get(client.key)
        if login is None or login.account is None or not login.password_needed or login.challenge is None:
            raise errors.AuthKeyUnregisteredError(request=request)
        srp = request.password
        if srp.srp_id != login.challenge.srp_id:
            raise errors.SrpIdInvalidError(request=request)
        if not login.challenge.accepts(self._verifier(login.account), srp.A, srp.M1):
            raise errors.PasswordHashInvalidError(request=request)
        pending = self.auth_of(client)
        if pending is not None and pending.password_pending:
            pending.password_pending = False
            self._logins.pop(client.key, None)
            return types.auth.Authorization(user=self.user(login.account))
        return self._authorize(client, login.account)

    # revoking, listing
    async def _LogOut(self, client: ScriptedClient, request: Any) -> types.auth.LoggedOut:
        auth = self.auth_of(client)
        if auth is not None and auth.alive and auth.password_pending:
            raise errors.SessionPasswordNeededError(request=request)  # as Telegram: reset it from another session
        if auth is not None and auth.alive:
            auth.alive = False
        elif self._logins.pop(client.key, None) is None:
            raise errors.AuthKeyUnregisteredError(request=request)
        return types.auth.LoggedOut()

    async def _ResetAuthorization(self, client: ScriptedClient, request: Any) -> bool:
        auth = self.authorized(client, request)
        if not auth.is_mature(self.clock.now()):
            raise errors.FreshResetAuthorisationForbiddenError(request=request)
        account = self.world.account(auth.phone)
        targets = [a for a in account.authorizations if a.alive and a.hash == request.hash and a is not auth]
        if not targets:
            raise errors.HashInvalidError(request=request)
        for target in targets:
            target.alive = False
        return True

    async def _GetAuthorizations(self, client: ScriptedClient, request: Any) -> types.account.Authorizations:
        auth = self.authorized(client, request)
        account = self.world.account(auth.phone)
        listed = [
            self._authorization_entry(a, account, hash_=0 if a is auth and self.current_hash_zero else a.hash)
            for a in account.authorizations
            if a.alive
        ]
        for entry, a in zip(listed, [a for a in account.authorizations if a.alive], strict=True):
            entry.current = a is auth
        return types.account.Authorizations(authorization_ttl_days=180, authorizations=listed)

    # -- helpers --------------------------------------------------------------------------------------------------

    def _spend_login(self, account: SimAccount, request: Any) -> None:
        refused = self.world.login_refused_for(account)
        if refused is not None:
            raise errors.FloodWaitError(request=request, capture=math.ceil(refused))
        self.world.record_login_attempt(account)

    def _complete(self, client: ScriptedClient, account: SimAccount, request: Any) -> types.auth.Authorization:
        if account.two_fa is not None:
            # Telegram creates the authorization now, password-pending: listed by getAuthorizations, refused
            # everything but the password (its own logOut included), removable by resetAuthorization.
            self._authorize(client, account).user  # noqa: B018 - the authorization is what matters here
            pending = self.auth_of(client)
            assert pending is not None
            pending.password_pending = True
            self._logins[client.key] = Login(account=account, password_needed=True)
            raise errors.SessionPasswordNeededError(request=request)
        return self._authorize(client, account)

    def _authorize(self, client: ScriptedClient, account: SimAccount) -> types.auth.Authorization:
        init = client._init_request
        identity = ClientIdentity(
            api_id=init.api_id,
            device_model=init.device_model,
            system_version=init.system_version,
            app_version=init.app_version,
            lang_code=init.lang_code,
            system_lang_code=init.system_lang_code,
        )
        self.world.new_authorization(account, identity, self.clock.now(), auth_key=client.key)
        self._logins.pop(client.key, None)
        return types.auth.Authorization(user=self.user(account))

    def _verifier(self, account: SimAccount) -> Verifier:
        assert account.two_fa is not None
        key = (account.phone, account.two_fa.reveal())
        if key not in self._verifiers:
            self._verifiers[key] = Verifier.for_password(account.two_fa.reveal())
        return self._verifiers[key]

    def _authorization_entry(self, auth: SimAuthorization | None, account: SimAccount, *, hash_: int) -> Any:
        identity = auth.identity if auth is not None else ClientIdentity()
        created = auth.created_at if auth is not None else self.clock.now()
        return types.Authorization(
            hash=hash_,
            device_model=identity.device_model,
            platform="Linux",
            system_version=identity.system_version,
            api_id=identity.api_id or 0,
            app_name="tgsessions",
            app_version=identity.app_version,
            date_created=created,
            date_active=self.clock.now(),
            password_pending=bool(auth is not None and auth.password_pending),
            ip="127.0.0.1",
            country="",
            region="",
        )
