"""The one token bucket (domain/token_bucket.py), as maintenance pacing and the per-key rate limiter use it.

``reserve`` always takes a token and says how long to wait before using it; ``try_take`` takes one only when a whole
one is there, else takes nothing and says how long until one is. Both refill at ``rate`` up to ``capacity``, and a
clock that goes back restarts the count. The rate limiter's own arithmetic (before it used the bucket) is kept
below as a reference, and the limiter is checked against it request by request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tgsessions.domain.access import ApiKey, Scope
from tgsessions.domain.errors import RateLimited
from tgsessions.domain.token_bucket import TokenBucket
from tgsessions.service.access.rate_limits import RateLimiter
from tgsessions.testing.clock import FakeClock


def test_a_bucket_starts_full_and_reserves_below_zero() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=0.0)
    assert bucket.full(0.0)
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]  # reservations queue up
    assert not bucket.full(0.0)
    assert bucket.reserve(1.0) == 0.5  # two tokens back, two owed: this one waits for one more
    assert bucket.full(100.0)  # refilled to capacity only
    assert [bucket.reserve(100.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_try_take_refuses_without_taking() -> None:
    bucket = TokenBucket(rate=0.5, capacity=2.0, now=10.0)
    assert bucket.try_take(10.0) == 0.0
    assert bucket.try_take(10.0) == 0.0
    assert bucket.try_take(10.0) == pytest.approx(2.0)  # empty: one token takes 1 / rate seconds
    assert bucket.try_take(11.0) == pytest.approx(1.0)  # half a token back; the refusal took nothing
    assert bucket.try_take(12.0) == 0.0
    assert bucket.try_take(12.0) == pytest.approx(2.0)
    assert bucket.try_take(100.0) == 0.0  # refilled to capacity (2) only
    assert bucket.try_take(100.0) == 0.0
    assert bucket.try_take(100.0) > 0


def test_a_refusal_always_asks_for_a_positive_wait() -> None:
    bucket = TokenBucket(rate=10.0, capacity=1.0, now=0.0)
    assert bucket.try_take(0.0) == 0.0
    for now in (0.0, 0.05, 0.0999):
        assert bucket.try_take(now) > 0
    assert bucket.try_take(0.1) == 0.0


def test_a_clock_that_goes_back_restarts_the_count() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1.0, now=1000.0)
    assert bucket.reserve(1000.0) == 0.0
    assert bucket.reserve(10.0) == 1.0  # empty, and the clock jumped back: one token period, not 990 s
    assert bucket.reserve(12.0) == 0.0
    limiter = TokenBucket(rate=1.0, capacity=1.0, now=1000.0)
    assert limiter.try_take(1000.0) == 0.0
    assert limiter.try_take(10.0) == pytest.approx(1.0)  # not 991 s
    assert limiter.try_take(11.0) == 0.0


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 1.0), (-1.0, 5.0), (1.0, 0.5)])
def test_a_bucket_needs_a_positive_rate_and_a_whole_token(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=rate, capacity=capacity, now=0.0)
    bucket = TokenBucket(rate=1.0, capacity=1.0, now=0.0)
    with pytest.raises(ValueError, match="positive rate"):
        bucket.retune(rate, capacity)


def test_retune_counts_the_elapsed_time_at_the_new_rate_and_drops_tokens_above_the_new_capacity() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.retune(2.0, 3.0)
    assert (bucket.rate, bucket.capacity) == (2.0, 3.0)
    assert [bucket.try_take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # ten tokens cut to three
    assert bucket.try_take(0.0) == pytest.approx(0.5)
    assert bucket.try_take(1.0) == 0.0  # one second at 2/s: two tokens
    assert bucket.try_take(1.0) == 0.0
    assert bucket.try_take(1.0) > 0


def test_the_repr_shows_no_more_than_the_numbers() -> None:
    assert repr(TokenBucket(rate=0.5, capacity=30.0, now=0.0)) == "TokenBucket(rate=0.5/s, capacity=30, tokens=30)"


# -- the rate limiter, against the arithmetic it had before the shared bucket -----------------------------------


@dataclass
class ReferenceLimiter:
    """RateLimiter.check as it was written before it used TokenBucket: a wait to refuse with, or None."""

    default: int
    buckets: dict[str, tuple[float, float]]

    def check(self, key: ApiKey, now: float) -> float | None:
        rate = key.rate_limit_per_minute or self.default
        if rate <= 0:
            return None
        per_second = rate / 60.0
        tokens, updated = self.buckets.get(key.key_id, (float(rate), now))
        tokens = min(float(rate), tokens + (now - updated) * per_second)
        if tokens < 1.0:
            self.buckets[key.key_id] = (tokens, now)
            return (1.0 - tokens) / per_second
        self.buckets[key.key_id] = (tokens - 1.0, now)
        return None


def make_key(key_id: str, per_minute: int | None) -> ApiKey:
    return ApiKey(key_id, key_id, frozenset({Scope.STATUS_READ}), "hash", datetime(2026, 1, 1, tzinfo=UTC),
                  rate_limit_per_minute=per_minute)  # fmt: skip


def test_the_rate_limiter_refuses_with_the_seconds_until_the_next_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, default_per_minute=600)
    key = make_key("k1", 2)
    limiter.check(key)
    limiter.check(key)
    with pytest.raises(RateLimited) as refused:
        limiter.check(key)
    assert refused.value.retry_after == pytest.approx(30.0)
    clock.advance(30)
    limiter.check(key)
    limiter.check(make_key("k2", 0))  # another key, on the default: its own bucket
    limiter = RateLimiter(clock, default_per_minute=0)
    for _ in range(1000):
        limiter.check(make_key("k3", None))  # no limit at all


def test_the_rate_limiter_answers_as_its_old_arithmetic_did() -> None:
    """Random requests of a few keys whose limits change on the way (forward time): the same refusals, the same
    waits."""
    rng = random.Random(20261101)
    clock = FakeClock()
    limiter = RateLimiter(clock, default_per_minute=30)
    reference = ReferenceLimiter(30, {})
    limits: dict[str, int | None] = {"a": 6, "b": None, "c": 120}
    refusals = 0
    for _ in range(3000):
        clock.advance(rng.choice((0.0, 0.0, 0.1, 0.5, 1.0, 3.0, 20.0)))
        if rng.random() < 0.01:
            limits[rng.choice("abc")] = rng.choice((None, 1, 6, 60, 600))
        key_id = rng.choice("abc")
        key = make_key(key_id, limits[key_id])
        expected = reference.check(key, clock.now().timestamp())
        try:
            limiter.check(key)
            got = None
        except RateLimited as exc:
            got = exc.retry_after
            refusals += 1
        if expected is None:
            assert got is None
        else:
            assert got == pytest.approx(max(1.0, expected), rel=1e-9, abs=1e-9)  # RetryLater: at least 1 s
    assert refusals > 100  # the run did exercise refusals


def test_the_rate_limiter_is_not_stalled_by_a_clock_that_goes_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, default_per_minute=60)
    key = make_key("k", 60)
    for _ in range(60):
        limiter.check(key)
    clock.advance(-timedelta(hours=1).total_seconds())
    with pytest.raises(RateLimited) as refused:
        limiter.check(key)
    assert refused.value.retry_after == pytest.approx(1.0)  # one token period, not an hour's worth of tokens
    clock.advance(1)
    limiter.check(key)
