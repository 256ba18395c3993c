"""API keys: created with a random secret shown once, stored as a keyed hash, checked on every request.

A key reads ``tgs_<key_id>_<secret>``: the key_id is public and names the caller in the audit trail; the secret
never leaves the caller. Authentication results are kept in the process for ``cache_seconds`` (10 s), so a key
revoked from another process stops working within that time (at once in the process that revoked it).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import InvalidInput, NotFound, Unauthenticated
from tgsessions.domain.ports import Cipher, Clock, Database

KEY_PATTERN = re.compile(r"^tgs_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$")


class KeyManager:
    def __init__(self, db: Database, cipher: Cipher, clock: Clock, *, cache_seconds: float = 10.0) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock
        self._ttl = timedelta(seconds=cache_seconds)
        self._recent: dict[str, tuple[ApiKey, datetime]] = {}

    def _hash(self, secret: str) -> str:
        return self._cipher.fingerprint(f"tgs-api-key:{secret}")

    async def create(
        self, name: str, scopes: Iterable[Scope], *, rate_limit_per_minute: int | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is shown once and never stored."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise InvalidInput("key name: 1-64 letters, digits, spaces or . _ : - (starting with a letter or digit)",
                               field="name")  # fmt: skip
        chosen = frozenset(scopes)
        if not chosen:
            raise InvalidInput("a key needs at least one scope", field="scopes")
        if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 1_000_000:
            raise InvalidInput("rate limit must be 1 to 1000000 requests per minute", field="rate_limit")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(key_id, name, chosen, self._hash(secret), self._clock.now(),
                     rate_limit_per_minute=rate_limit_per_minute)  # fmt: skip
        async with self._db.unit_of_work() as uow:
            key = await uow.keys.add_key(key)
            await uow.commit()
        return key, f"tgs_{key_id}_{secret}"

    async def list(self) -> list[ApiKey]:
        async with self._db.unit_of_work() as uow:
            return await uow.keys.keys()

    async def any_active(self) -> bool:
        return any(k.active for k in await self.list())

    async def revoke(self, key_id: str) -> ApiKey:
        async with self._db.unit_of_work() as uow:
            key = await uow.keys.key_by_id(key_id)
            if key is None:
                raise NotFound(f"no API key with id {key_id}")
            if key.revoked_at is None:
                key.revoked_at = self._clock.now()
                await uow.keys.save_key(key)
                await uow.commit()
        self._recent = {k: v for k, v in self._recent.items() if v[0].key_id != key_id}
        return key

    async def authenticate(self, presented: str | None) -> ApiKey:
        """The active key behind ``presented``; Unauthenticated (never saying which part was wrong) otherwise."""
        if not presented:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        match = KEY_PATTERN.match(presented.strip())
        if match is None:
            raise Unauthenticated("the API key is not valid")
        key_id, secret = match.groups()
        now = self._clock.now()
        remembered = self._recent.get(key_id)
        if remembered is not None and remembered[1] > now and hmac.compare_digest(remembered[0].key_hash,
                                                                                 self._hash(secret)):  # fmt: skip
            return remembered[0]
        async with self._db.unit_of_work() as uow:
            key = await uow.keys.key_by_id(key_id)
        if key is None or not key.active or not hmac.compare_digest(key.key_hash, self._hash(secret)):
            raise Unauthenticated("the API key is not valid")
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[key_id] = (key, now + self._ttl)
        return key
