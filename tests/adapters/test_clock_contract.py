"""The Clock port, on every implementation: the system clock and the test clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

import pytest

from tgsessions.domain.clock import SystemClock
from tgsessions.domain.ports import Clock
from tgsessions.testing.clock import FakeClock

CLOCKS: dict[str, Callable[[], Clock]] = {"system": SystemClock, "fake": FakeClock}


@pytest.fixture(params=sorted(CLOCKS), ids=sorted(CLOCKS))
def any_clock(request: pytest.FixtureRequest) -> Clock:
    return CLOCKS[request.param]()


def test_now_is_an_aware_utc_datetime(any_clock: Clock) -> None:
    now = any_clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert now.astimezone(UTC) == now


def test_now_never_goes_backwards_between_calls(any_clock: Clock) -> None:
    readings = [any_clock.now() for _ in range(100)]
    assert readings == sorted(readings)


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock()
    start = clock.now()
    assert clock.now() == start
    assert clock.advance(seconds=90) == start + timedelta(seconds=90) == clock.now()
