"""Per-key request rate limits: a token bucket per key, in this process (one worker per instance)."""

from __future__ import annotations

from dataclasses import dataclass

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import RateLimited
from tgsessions.domain.ports import Clock


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Clock, *, default_per_minute: int) -> None:
        self._clock = clock
        self._default = default_per_minute
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: ApiKey) -> None:
        """Take one token for ``key`` or raise RateLimited with the seconds until the next one."""
        rate = key.rate_limit_per_minute or self._default
        if rate <= 0:
            return
        now = self._clock.now().timestamp()
        per_second = rate / 60.0
        bucket = self._buckets.get(key.key_id)
        if bucket is None:
            bucket = self._buckets[key.key_id] = _Bucket(float(rate), now)
        bucket.tokens = min(float(rate), bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / per_second
            raise RateLimited(f"API key {key.key_id} is over its limit of {rate} requests per minute",
                              retry_after=wait)  # fmt: skip
        bucket.tokens -= 1.0
