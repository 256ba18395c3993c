"""The per-key rate limiter (service/access/rate_limits.py): which limit a key is held to, and what a refusal
says. The counting itself is the RateWindow's (tests/adapters/test_rate_window_contract.py); here a window that
records what it was asked and answers as told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import RateLimited
from tgsessions.service.access import RateLimiter


@dataclass
class ScriptedWindow:
    """Answers each hit with the next of ``waits`` (0.0 once they run out) and records (key, per_minute)."""

    waits: list[float] = field(default_factory=list)
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def hit(self, key: str, per_minute: int) -> float:
        self.asked.append((key, per_minute))
        return self.waits.pop(0) if self.waits else 0.0


def make_key(key_id: str, per_minute: int | None) -> ApiKey:
    return ApiKey(key_id, key_id, frozenset({Scope.STATUS_READ}), "hash", datetime(2026, 1, 1, tzinfo=UTC),
                  rate_limit_per_minute=per_minute)  # fmt: skip


async def test_a_key_is_held_to_its_own_limit_else_the_default() -> None:
    window = ScriptedWindow()
    limiter = RateLimiter(window, default_per_minute=600)
    await limiter.check(make_key("own", 7))
    await limiter.check(make_key("default", None))
    assert window.asked == [("own", 7), ("default", 600)]


async def test_a_changed_limit_is_the_one_asked_for_at_the_next_request() -> None:
    window = ScriptedWindow()
    limiter = RateLimiter(window, default_per_minute=600)
    await limiter.check(make_key("k", 5))
    await limiter.check(make_key("k", 50))
    assert window.asked == [("k", 5), ("k", 50)]


async def test_a_default_of_zero_is_unlimited_and_asks_no_window() -> None:
    window = ScriptedWindow(waits=[30.0])
    limiter = RateLimiter(window, default_per_minute=0)
    for _ in range(100):
        await limiter.check(make_key("k", None))
    assert window.asked == []
    with pytest.raises(RateLimited):
        await limiter.check(make_key("limited", 3))  # a key's own limit still holds


async def test_a_refusal_is_rate_limited_with_the_wait_and_names_the_key_and_limit() -> None:
    limiter = RateLimiter(ScriptedWindow(waits=[0.0, 12.5, 0.2]), default_per_minute=600)
    key = make_key("abc", 2)
    await limiter.check(key)
    with pytest.raises(RateLimited) as refused:
        await limiter.check(key)
    assert refused.value.retry_after == 12.5
    assert "abc" in str(refused.value) and "2 requests per minute" in str(refused.value)
    with pytest.raises(RateLimited) as soon:
        await limiter.check(key)
    assert soon.value.retry_after == 1.0  # Retry-After is whole seconds, at least one
