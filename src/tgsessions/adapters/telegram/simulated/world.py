"""The in-memory Telegram world: accounts, authorizations, the login budget, and fault injection.

Tests seed it (:meth:`SimulatedTelegram.add_account`, :meth:`SimulatedTelegram.create_session`; seeding never counts
against the login budget), break it (``revoke``, ``ban``, ``flood_wait``, ``time_out`` ...) and inspect it
(``calls``, ``alive_authorizations``, ``is_alive``). The gateway in :mod:`.gateway` is the only thing that "calls
Telegram"; every call goes through :meth:`SimulatedTelegram.begin_call`, which applies latency and transport faults.

Time comes from the injected clock (creation dates, flood waits, the login window, freshness); latency and hung calls
use the event loop's real time, so a caller's ``asyncio.timeout`` really cancels them.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import TypeVar

from tgsessions.adapters.telegram.simulated import strings
from tgsessions.adapters.telegram.simulated.changes import Changes
from tgsessions.adapters.telegram.simulated.entities import SimAccount as SimAccount
from tgsessions.adapters.telegram.simulated.entities import SimAccountState as SimAccountState
from tgsessions.adapters.telegram.simulated.entities import SimAuthorization as SimAuthorization
from tgsessions.adapters.telegram.simulated.entities import SimulatedServerError as SimulatedServerError
from tgsessions.domain.errors import InvalidInput
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.phone import normalise_phone
from tgsessions.domain.policies import LoginBudget
from tgsessions.domain.ports import Clock
from tgsessions.domain.secret import Secret

CALL_KINDS = ("validate", "mint_qr", "mint_code", "log_out", "revoke_other", "authorizations")


_Touched = TypeVar("_Touched", SimAccount, SimAuthorization)


class SimulatedTelegram:
    """An in-memory Telegram. See the module docstring; ``seed`` makes keys and hashes reproducible."""

    def __init__(
        self,
        clock: Clock,
        *,
        login_limit: int = 5,
        login_window: timedelta = timedelta(hours=24),
        latency: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self.budget = LoginBudget(limit=login_limit, window=login_window)
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._accounts: dict[str, SimAccount] = {}
        self._by_key: dict[bytes, SimAuthorization] = {}
        self._timeouts: Counter[str | None] = Counter()
        self._server_errors: Counter[str | None] = Counter()
        self.changes: Changes | None = None  # set when the world is saved: what changed since the last write

    def __repr__(self) -> str:
        return f"SimulatedTelegram(accounts={len(self._accounts)}, authorizations={len(self._by_key)})"

    # -- seeding (never counts against the login budget) -------------------------------------------------------

    def add_account(self, phone: str, *, two_fa: str | None = None, dc_id: int | None = None) -> None:
        key = normalise_phone(phone)
        if key in self._accounts:
            raise ValueError(f"simulated account {key} already exists")
        dc = dc_id if dc_id is not None else self._rng.choice(sorted(strings.DC_ADDRESSES))
        if dc not in strings.DC_ADDRESSES:
            raise ValueError(f"unknown data centre {dc}")
        self._accounts[key] = SimAccount(key, dc, Secret(two_fa) if two_fa is not None else None)
        self.note(self._accounts[key])

    def create_session(
        self, phone: str, *, age: timedelta = timedelta(days=30), identity: ClientIdentity | None = None
    ) -> Secret:
        """An existing authorization of ``phone`` created ``age`` ago; returns its session string."""
        account = self.account(phone)
        created = self.new_authorization(account, identity or ClientIdentity(), self.clock.now() - age)
        return created.string

    def set_two_fa(self, phone: str, password: str | None) -> None:
        self.note(self.account(phone)).two_fa = Secret(password) if password is not None else None

    # -- fault injection ----------------------------------------------------------------------------------------

    def revoke(self, string: Secret | str) -> None:
        """Terminate the authorization of ``string`` (as if another session reset it)."""
        found = self.find(string)
        if found is None:
            raise ValueError("not a session string of this simulated Telegram")
        self.end(found)

    def ban(self, phone: str) -> None:
        self.note(self.account(phone)).state = SimAccountState.BANNED

    def deactivate(self, phone: str) -> None:
        self.note(self.account(phone)).state = SimAccountState.DEACTIVATED

    def freeze(self, phone: str, *, frozen: bool = True) -> None:
        self.note(self.account(phone)).frozen = frozen

    def flood_wait(self, phone: str, seconds: float) -> None:
        """Every call for the account answers with a flood wait until the clock passes now + ``seconds``."""
        self.account(phone).flood_until = self.clock.now() + timedelta(seconds=seconds)

    def time_out(self, phone: str | None = None, *, calls: int = 1) -> None:
        """The next ``calls`` calls (for ``phone``, or for any account) hang until the caller cancels them."""
        self._timeouts[self.normalise(phone) if phone is not None else None] += calls

    def server_error(self, phone: str | None = None, *, calls: int = 1) -> None:
        """The next ``calls`` calls (for ``phone``, or for any account) fail with a Telegram server error."""
        self._server_errors[self.normalise(phone) if phone is not None else None] += calls

    def disable_qr(self, phone: str, *, disabled: bool = True) -> None:
        """QR login is unavailable for the account: minting takes the login code path."""
        self.note(self.account(phone)).qr_enabled = not disabled

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- inspection ---------------------------------------------------------------------------------------------

    def account(self, phone: str) -> SimAccount:
        found = self.lookup_account(phone)
        if found is None:
            raise KeyError(f"no simulated account {phone}")
        return found

    def alive_authorizations(self, phone: str) -> int:
        return sum(a.alive for a in self.account(phone).authorizations)

    def is_alive(self, string: Secret | str) -> bool:
        found = self.find(string)
        return found is not None and found.alive

    def login_attempts(self, phone: str) -> int:
        """Login attempts of the account inside the current login window."""
        return len(self._attempts_in_window(self.account(phone)))

    # -- used by the gateway ------------------------------------------------------------------------------------

    async def begin_call(self, kind: str, phone: str) -> None:
        """Count the call, add latency, then apply a pending timeout (hang) or server error fault."""
        self.calls[kind] += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        key = self.normalise(phone)
        if self._take(self._timeouts, key):
            await asyncio.Event().wait()  # hangs until the caller's timeout cancels it
        if self._take(self._server_errors, key):
            raise SimulatedServerError("simulated Telegram server error")

    def all_accounts(self) -> list[SimAccount]:
        return list(self._accounts.values())

    def adopt(self, account: SimAccount) -> None:
        """Take in an account restored from saved state (see persistence.py), with its authorizations."""
        if account.phone in self._accounts:
            raise ValueError(f"simulated account {account.phone} already exists")
        self._accounts[account.phone] = account
        for auth in account.authorizations:
            self._by_key[auth.auth_key] = auth

    def restore(self, auth: SimAuthorization) -> None:
        """Take in an authorization restored from saved state: a new one of a known account, or the new state
        (alive, password pending) of one already known by its auth key."""
        known = self._by_key.get(auth.auth_key)
        if known is not None:
            known.alive, known.password_pending = auth.alive, auth.password_pending
            return
        self.account(auth.phone).authorizations.append(auth)
        self._by_key[auth.auth_key] = auth

    def lookup_account(self, phone: str) -> SimAccount | None:
        return self._accounts.get(self.normalise(phone))

    def find(self, string: Secret | str) -> SimAuthorization | None:
        """The authorization (alive or not) a session string belongs to; None for a malformed or unknown one."""
        decoded = strings.decode(string.reveal() if isinstance(string, Secret) else string)
        return None if decoded is None else self._by_key.get(decoded.auth_key)

    def flood_remaining(self, account: SimAccount) -> float | None:
        """Seconds of an active flood wait, or None."""
        if account.flood_until is None:
            return None
        remaining = (account.flood_until - self.clock.now()).total_seconds()
        if remaining <= 0:
            account.flood_until = None
            return None
        return remaining

    def login_refused_for(self, account: SimAccount) -> float | None:
        """Seconds until the login window frees, when the account's login budget is exhausted; else None."""
        inside = self._attempts_in_window(account)
        if len(inside) < self.budget.limit:
            return None
        return max(1.0, self.budget.retry_after(inside, self.clock.now()))

    def record_login_attempt(self, account: SimAccount) -> None:
        now = self.clock.now()
        self.note(account).login_attempts = [*self._attempts_in_window(account), now]

    def end(self, auth: SimAuthorization) -> None:
        """The authorization is logged out or reset (ending a dead one again changes nothing)."""
        if auth.alive:
            self.note(auth).alive = False

    def mark_password_pending(self, auth: SimAuthorization) -> None:
        self.note(auth).password_pending = True  # signed in, waiting for the 2FA password

    def note(self, entity: _Touched) -> _Touched:
        """``entity`` changed (for a saved world's journal, see changes.py); returns it."""
        if self.changes is not None:
            self.changes.add(entity)
        return entity

    def new_authorization(
        self, account: SimAccount, identity: ClientIdentity, created_at: datetime, *, auth_key: bytes | None = None
    ) -> SimAuthorization:
        """A new authorization of ``account``; ``auth_key`` is the key a client already made (a TL-level server)."""
        if auth_key is not None and (auth_key in self._by_key or len(auth_key) != strings.AUTH_KEY_BYTES):
            raise ValueError("that auth key is taken or has the wrong size")
        key = auth_key
        while key is None or key in self._by_key or not any(key):
            key = self._rng.randbytes(strings.AUTH_KEY_BYTES)
        auth = SimAuthorization(
            phone=account.phone,
            dc_id=account.dc_id,
            created_at=created_at,
            hash=self._rng.getrandbits(63),
            identity=identity,
            auth_key=key,
        )
        account.authorizations.append(auth)
        self._by_key[key] = auth
        self.note(auth)
        return auth

    # -- helpers ------------------------------------------------------------------------------------------------

    def _attempts_in_window(self, account: SimAccount) -> list[datetime]:
        since = self.clock.now() - self.budget.window
        return [t for t in account.login_attempts if t > since]

    @staticmethod
    def normalise(phone: str) -> str:
        """The account key of ``phone`` (digits only); a phone that does not parse is used as given."""
        try:
            return normalise_phone(phone)
        except InvalidInput:
            return phone

    @staticmethod
    def _take(pending: Counter[str | None], key: str) -> bool:
        for slot in (key, None):
            if pending[slot] > 0:
                pending[slot] -= 1
                return True
        return False
