"""Contract of the RateWindow port (``LimitsRateWindow``: the ``limits`` library's sliding window counter), run in
memory and on Redis; then what differs: windows on one Redis are one window, windows in memory are one per
instance, and a Redis outage falls back to counting in the process.

Redis runs at the ``redis_url`` fixture (db 15); each test has its own key prefix, deleted afterwards. Time is real
(the library reads ``time.time()``): a test that needs a window to move on uses a one-second window and waits for
the wait the window named.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from tests.support.redis_space import RedisSpace, closed_redis_url, redis_space
from tgsessions.adapters.limits import LimitsRateWindow, open_limits


@dataclass
class Windows:
    backend: str
    make: Callable[..., LimitsRateWindow]  # make(window_seconds=60): one more instance's window


@pytest.fixture
async def space(redis_url: str) -> AsyncIterator[RedisSpace]:
    async with redis_space(redis_url) as opened:
        yield opened


@pytest.fixture(params=["memory", "redis"])
async def windows(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Windows]:
    if request.param == "memory":
        yield Windows("memory", LimitsRateWindow.in_memory)
        return
    async with redis_space(redis_url) as space:

        def on_redis(window_seconds: int = 60) -> LimitsRateWindow:
            return LimitsRateWindow.on_redis(space.pool(), prefix=space.prefix + "limits",
                                             window_seconds=window_seconds)  # fmt: skip

        yield Windows("redis", on_redis)


async def hits(window: LimitsRateWindow, key: str, per_minute: int, count: int) -> list[float]:
    return [await window.hit(key, per_minute) for _ in range(count)]


async def early_in_a_second() -> None:
    """Start in the first half of a wall-clock second: the memory storage's windows begin on whole seconds, and a
    burst must not straddle the start of one (Redis' windows begin at a key's first hit)."""
    if time.time() % 1 > 0.5:
        await asyncio.sleep(1.01 - time.time() % 1)


async def test_a_burst_of_the_limit_passes_and_the_next_hit_is_told_to_wait(windows: Windows) -> None:
    window = windows.make()
    assert await hits(window, "k", 5, 5) == [0.0] * 5
    waits = await hits(window, "k", 5, 3)
    assert all(0 < wait <= 60 for wait in waits)  # within the minute, whatever the window's phase


async def test_keys_are_counted_apart(windows: Windows) -> None:
    window = windows.make()
    assert await hits(window, "a", 2, 2) == [0.0, 0.0]
    assert await window.hit("a", 2) > 0
    assert await hits(window, "b", 2, 2) == [0.0, 0.0]


async def test_a_raised_limit_applies_at_once_and_refusals_counted_nothing(windows: Windows) -> None:
    window = windows.make()
    assert await hits(window, "k", 2, 2) == [0.0, 0.0]
    assert all(wait > 0 for wait in await hits(window, "k", 2, 10))  # ten refusals
    assert await window.hit("k", 3) == 0.0  # two counted, not twelve: the third of three passes
    assert await window.hit("k", 3) > 0


async def test_a_lowered_limit_applies_at_once_to_the_hits_counted(windows: Windows) -> None:
    window = windows.make()
    assert await hits(window, "k", 10, 4) == [0.0] * 4
    assert await window.hit("k", 3) > 0
    assert await window.hit("k", 10) == 0.0


async def test_after_the_wait_it_names_the_next_hit_passes(windows: Windows) -> None:
    window = windows.make(window_seconds=1)  # two hits a second
    await early_in_a_second()
    assert await hits(window, "k", 2, 2) == [0.0, 0.0]
    wait = await window.hit("k", 2)
    assert 0 < wait <= 1
    await asyncio.sleep(wait + 0.02)
    assert await window.hit("k", 2) == 0.0


async def test_a_limit_allows_at_least_one_hit(windows: Windows) -> None:
    with pytest.raises(ValueError, match="at least one hit"):
        await windows.make().hit("k", 0)
    with pytest.raises(ValueError, match="at least one second"):
        windows.make(window_seconds=0)


# -- what differs ----------------------------------------------------------------------------------------------------


async def test_windows_on_one_redis_are_one_window(space: RedisSpace) -> None:
    one, two = (LimitsRateWindow.on_redis(space.pool(), prefix=space.prefix + "limits") for _ in range(2))
    assert [await (one if i % 2 else two).hit("k", 4) for i in range(4)] == [0.0] * 4
    assert await one.hit("k", 4) > 0
    assert await two.hit("k", 4) > 0
    assert all(key.startswith(space.prefix + "limits:") and "k" in key for key in await space.keys())


async def test_windows_in_memory_are_one_per_instance() -> None:
    one, two = LimitsRateWindow.in_memory(), LimitsRateWindow.in_memory()
    assert await hits(one, "k", 2, 2) == [0.0, 0.0]
    assert await one.hit("k", 2) > 0
    assert await hits(two, "k", 2, 2) == [0.0, 0.0]  # the other instance counts its own


async def test_a_redis_outage_counts_in_the_process_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    async with open_limits(closed_redis_url(), socket_timeout=0.5) as limits:
        window = limits.rate_window
        with caplog.at_level(logging.WARNING, logger="tgsessions.adapters.limits.rate_window"):
            assert await hits(window, "k", 3, 3) == [0.0] * 3  # no request fails because of the limiter
            assert await window.hit("k", 3) > 0  # and the limit still holds, in this process
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()


async def test_without_redis_the_limits_are_in_memory_and_flood_waits_stay_in_each_gateway() -> None:
    async with open_limits(None) as limits:
        assert repr(limits.rate_window) == "LimitsRateWindow(backend='memory', window_seconds=60)"
        assert limits.flood_waits is None
