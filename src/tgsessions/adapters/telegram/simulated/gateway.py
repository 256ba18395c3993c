"""``SimulatedTelegramGateway``: the TelegramGateway port over a :class:`SimulatedTelegram` world.

Order of checks in every call, as a client would meet them: transport faults (latency, hung call, server error),
then a flood wait on the account, then the session string itself (malformed, unknown or revoked key, another phone's
key), then the account (banned, deactivated, frozen). A string of another account is reported as a phone mismatch
before that account's state is looked at: it says nothing about *this* account.

No exception message or repr produced here contains a session string or a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from tgsessions.adapters.telegram.simulated import strings
from tgsessions.adapters.telegram.simulated.world import (
    SimAccount,
    SimAccountState,
    SimAuthorization,
    SimulatedServerError,
    SimulatedTelegram,
)
from tgsessions.domain.errors import AccountBanned, MintFailed, TelegramUnavailable, TwoFactorInvalid
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Reason, Verdict

_ACCOUNT_DEAD_REASON = {
    SimAccountState.BANNED: Reason.USER_BANNED,
    SimAccountState.DEACTIVATED: Reason.USER_DEACTIVATED,
}


class SimulatedTelegramGateway:
    """The TelegramGateway port against the simulated world (``backend = "simulated"``)."""

    backend = "simulated"

    def __init__(self, world: SimulatedTelegram) -> None:
        self.world = world

    def __repr__(self) -> str:
        return f"SimulatedTelegramGateway({self.world!r})"

    # -- validate -----------------------------------------------------------------------------------------------

    async def validate(self, access: SessionAccess) -> Verdict:
        world = self.world
        try:
            await world.begin_call("validate", access.phone)
        except SimulatedServerError:
            return Verdict.unknown(Reason.SERVER_ERROR, world.clock.now())
        now = world.clock.now()
        account = world.lookup_account(access.phone)
        flood = world.flood_remaining(account) if account is not None else None
        if flood is not None:
            return Verdict.unknown(Reason.FLOOD_WAIT, now, retry_after=flood)
        auth, dead_reason = self._resolve(access)
        if auth is None:
            return Verdict.dead(dead_reason, now)
        owner = world.account(auth.phone)
        if owner.is_dead:
            return Verdict.account_dead(_ACCOUNT_DEAD_REASON[owner.state], now)
        return Verdict.alive(now, frozen=owner.frozen, user_id=simulated_user_id(owner.phone))

    # -- mint ---------------------------------------------------------------------------------------------------

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        world = self.world
        account = world.lookup_account(source.phone)
        method = "code" if account is not None and not account.qr_enabled else "qr"
        account = await self._enter_account(f"mint_{method}", source)
        self._require_live_source(source, account)
        refused = world.login_refused_for(account)
        if refused is not None:
            raise TelegramUnavailable(
                f"the login budget at Telegram is exhausted for account {account.phone}; logins are blocked",
                retry_after=refused,
                phone=account.phone,
            )
        world.record_login_attempt(account)
        created = world.new_authorization(account, new_identity, world.clock.now())
        if account.two_fa is not None and two_fa != account.two_fa:
            # The new client is signed in and waits for the password: Telegram lists that authorization, and the
            # new client's own logOut is refused (SESSION_PASSWORD_NEEDED) — it is left for the caller to reset.
            world.mark_password_pending(created)
            if two_fa is None:
                raise TwoFactorInvalid(
                    f"no 2FA password stored for account {account.phone}, but Telegram asks for one",
                    phone=account.phone,
                )
            raise TwoFactorInvalid("stored 2FA password is wrong", phone=account.phone)
        return MintedSession(created.string, method, new_identity, auth_hash=created.hash)

    # -- revoking -----------------------------------------------------------------------------------------------

    async def log_out(self, access: SessionAccess) -> None:
        await self._enter("log_out", access)
        auth = self.world.find(access.string)
        if auth is not None:
            self.world.end(auth)  # an already dead (or unknown) session counts as logged out

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        account = await self._enter_account("revoke_other", source)
        auth = self._require_live_source(source, account)
        if not auth.is_mature(self.world.clock.now()):
            raise MintFailed(
                f"a session of account {account.phone} younger than 24 h cannot reset other authorizations",
                reason="fresh_reset_forbidden",
                transient=False,
                phone=account.phone,
            )
        for other in account.authorizations:
            if other.hash == auth_hash and other is not auth:
                self.world.end(other)

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        account = await self._enter_account("authorizations", access)
        current = self._require_live_source(access, account)
        return [
            Authorization(
                hash=a.hash,
                device_model=a.identity.device_model,
                app_version=a.identity.app_version,
                created_at=a.created_at,
                current=a is current,
                password_pending=a.password_pending,
            )
            for a in account.authorizations
            if a.alive
        ]

    # -- helpers ------------------------------------------------------------------------------------------------

    async def _enter(self, kind: str, access: SessionAccess) -> SimAccount | None:
        """Begin a call that raises domain errors: transport faults, then a flood wait on the account."""
        world = self.world
        try:
            await world.begin_call(kind, access.phone)
        except SimulatedServerError as exc:
            raise TelegramUnavailable(
                f"Telegram answered with a server error for account {access.phone}",
                retry_after=1.0,
                phone=access.phone,
            ) from exc
        account = world.lookup_account(access.phone)
        flood = world.flood_remaining(account) if account is not None else None
        if account is not None and flood is not None:
            raise TelegramUnavailable(
                f"Telegram asked to wait {flood:.0f} s before the next call for account {account.phone}",
                retry_after=flood,
                phone=account.phone,
            )
        return account

    async def _enter_account(self, kind: str, access: SessionAccess) -> SimAccount:
        """:meth:`_enter` for calls that need a usable account: unknown → source dead, banned → AccountBanned."""
        account = await self._enter(kind, access)
        if account is None:
            _source_dead(access.phone, "no such account at Telegram")
        if account.is_dead:
            raise AccountBanned(account.phone, account.state.value)
        return account

    def _resolve(self, access: SessionAccess) -> tuple[SimAuthorization | None, str]:
        """The live authorization of ``access`` on its own phone, or None and the dead reason."""
        auth = self.world.find(access.string)
        if auth is None:
            malformed = strings.decode(access.string.reveal()) is None
            return None, Reason.MALFORMED if malformed else Reason.AUTH_KEY_UNREGISTERED
        if not auth.alive:
            return None, Reason.AUTH_KEY_UNREGISTERED
        if auth.phone != self.world.normalise(access.phone):
            return None, Reason.PHONE_MISMATCH
        return auth, Reason.OK

    def _require_live_source(self, source: SessionAccess, account: SimAccount) -> SimAuthorization:
        auth, reason = self._resolve(source)
        if auth is None:
            _source_dead(account.phone, f"the source session is dead ({reason})")
        return auth


def _source_dead(phone: str, why: str) -> NoReturn:
    raise MintFailed(
        f"cannot use a session of account {phone}: {why}", reason="source_dead", transient=False, phone=phone
    )


def simulated_user_id(phone: str) -> int:
    """The simulated account's Telegram user id: stable per phone, like a real one."""
    return 1_000_000_000 + int(phone[-9:]) if phone[-9:].isdigit() else 1_000_000_000
