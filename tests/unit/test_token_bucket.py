"""The token bucket (domain/token_bucket.py), as maintenance pacing uses it. (The per-key rate limiter counts on
the ``limits`` library instead: tests/unit/test_rate_limiter.py and tests/adapters/test_rate_window_contract.py.)

``reserve`` always takes a token and says how long to wait before using it; ``try_take`` takes one only when a whole
one is there, else takes nothing and says how long until one is. Both refill at ``rate`` up to ``capacity``, and a
clock that goes back restarts the count.
"""

from __future__ import annotations

import pytest

from tgsessions.domain.token_bucket import TokenBucket


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
