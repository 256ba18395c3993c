"""A token bucket: ``rate`` tokens per second up to ``capacity``, on whatever clock the caller reads (seconds).

Two ways to spend a token: ``reserve`` always takes one (the bucket may go below zero, so concurrent callers queue
in order without a lock) and says how long to wait before using it (maintenance pacing); ``try_take`` takes one only
when a whole one is there, and otherwise takes nothing and says how long until one is (a request refused with
Retry-After). A clock that goes back restarts the count from there instead of stalling until it catches up.
"""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; starts full."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        _check(rate, capacity)
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._stamp = now

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self._rate:g}/s, capacity={self._capacity:g}, tokens={self._tokens:g})"

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def capacity(self) -> float:
        return self._capacity

    def _refill(self, now: float) -> None:
        if now < self._stamp:  # the clock went back: start counting from here, never stall until it catches up
            self._stamp = now
        elif now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now

    def reserve(self, now: float) -> float:
        """Take one token; the seconds to wait before using it (0 when one was there)."""
        self._refill(now)
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def try_take(self, now: float) -> float:
        """Take one token if a whole one is there (0 returned); else take nothing and return the seconds until one
        is (always more than 0)."""
        self._refill(now)
        if self._tokens < 1.0:
            return (1.0 - self._tokens) / self._rate
        self._tokens -= 1.0
        return 0.0

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self._capacity

    def retune(self, rate: float, capacity: float) -> None:
        """A new rate and capacity from now on (tokens above the new capacity are dropped). The time since the last
        use is counted at the new rate when the bucket is next used."""
        _check(rate, capacity)
        self._rate = rate
        self._capacity = capacity
        self._tokens = min(capacity, self._tokens)


def _check(rate: float, capacity: float) -> None:
    if rate <= 0 or capacity < 1:
        raise ValueError("a token bucket needs a positive rate and a capacity of at least one token")
