"""Per-key request rate limits: a token bucket per key, in this process (one worker per instance)."""

from __future__ import annotations

from tgsessions.domain.access import ApiKey
from tgsessions.domain.errors import RateLimited
from tgsessions.domain.ports import Clock
from tgsessions.domain.token_bucket import TokenBucket


class RateLimiter:
    def __init__(self, clock: Clock, *, default_per_minute: int) -> None:
        self._clock = clock
        self._default = default_per_minute
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, key: ApiKey) -> None:
        """Take one token for ``key`` or raise RateLimited with the seconds until the next one.

        A key's bucket holds a minute's worth of requests and refills at its per-minute rate (the key's own, else
        the default); a changed rate applies from the key's next request on."""
        rate = key.rate_limit_per_minute or self._default
        if rate <= 0:
            return
        now = self._clock.now().timestamp()
        per_second = rate / 60.0
        bucket = self._buckets.get(key.key_id)
        if bucket is None:
            bucket = self._buckets[key.key_id] = TokenBucket(per_second, float(rate), now)
        elif bucket.rate != per_second:
            bucket.retune(per_second, float(rate))
        wait = bucket.try_take(now)
        if wait > 0:
            raise RateLimited(f"API key {key.key_id} is over its limit of {rate} requests per minute",
                              retry_after=wait)  # fmt: skip
