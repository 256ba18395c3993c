"""``RedisDeadlineBoard``: the DeadlineBoard port on Redis, where every instance of the service sees the same
deadlines (the flood waits Telegram gave any of them).

One key per deadline, ``{prefix}{key}`` (default ``tgs:flood:``; keys name an account's digits and a scope, never
session material), holding the deadline in seconds since the epoch, with a time to live so that Redis forgets it.
The deadline is written by the instance that learnt it, on its clock, and read against the reader's clock: clocks
kept by NTP agree far closer than the seconds a flood wait lasts. Holding keeps the later of two deadlines in one
round trip (a script), so two instances recording at once never shorten a wait.

A Redis outage must not break a call to Telegram: errors are caught, ``until`` answers None and ``hold`` does
nothing (the caller keeps its own record in its process), with one warning per outage.
"""

from __future__ import annotations

import logging
import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS: the deadline. ARGV: the deadline, its time to live in ms. Keeps the later deadline (and its time to live).
_HOLD_SCRIPT = """
local held = tonumber(redis.call('GET', KEYS[1]))
if held == nil or held < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""

_ERRORS = (RedisError, OSError)


class RedisDeadlineBoard:
    backend = "redis"

    def __init__(self, client: Redis, *, prefix: str = "tgs:flood:") -> None:
        self._client = client
        self.prefix = prefix
        self._hold_script = client.register_script(_HOLD_SCRIPT)
        self._down = False

    def __repr__(self) -> str:
        return f"RedisDeadlineBoard(prefix={self.prefix!r})"

    async def until(self, key: str) -> float | None:
        try:
            raw = await self._client.get(self.prefix + key)
        except _ERRORS as exc:
            self._note_down(exc)
            return None
        self._note_up()
        return None if raw is None else float(raw)

    async def hold(self, key: str, until: float, ttl_seconds: float) -> None:
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        try:
            await self._hold_script(keys=[self.prefix + key], args=[repr(float(until)), ttl_ms])
        except _ERRORS as exc:
            self._note_down(exc)
            return
        self._note_up()

    def _note_down(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("the shared flood waits are unreachable (%s): each instance keeps its own until they are back",
                        type(exc).__name__)  # fmt: skip

    def _note_up(self) -> None:
        if self._down:
            self._down = False
            log.warning("the shared flood waits are reachable again")
