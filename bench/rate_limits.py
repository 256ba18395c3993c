"""Cost of the per-key rate limit on a request: the limiter the composition root builds, in memory and on Redis,
against the bare floor of each (the in-process token bucket it replaced; one raw redis-py script call).

Each figure is a mean per allowed check of one key (awaited one after another, the event loop given two turns after
each as a server would: the library's memory storage expires entries in a background task), the median of 7 rounds
alternating with its floor's in the same runtime. Prints (microseconds include the two loop turns):
  bucket_us                        the replaced hand-written token bucket, one try_take (in-process floor)
  limiter_memory_us                RateLimiter.check, TGS_CACHE_BACKEND=memory (limits' MemoryStorage)
  limiter_memory_over_bucket       limiter_memory_us / bucket_us; target <= 4 (tens of microseconds a request at most)
  redis_roundtrip_us               one EVALSHA of a one-line script with redis-py: the floor of any shared counter
  limiter_redis_us                 RateLimiter.check, TGS_CACHE_BACKEND=redis (limits' sliding window on Redis)
  limiter_redis_over_roundtrip     limiter_redis_us / redis_roundtrip_us; target <= 1.5 (one round trip per check)

Usage: .venv/bin/python bench/rate_limits.py [--checks 5000] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402

from redis.asyncio import Redis  # noqa: E402

from tgsessions.bootstrap import open_runtime  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.access import ApiKey, Scope  # noqa: E402
from tgsessions.domain.token_bucket import TokenBucket  # noqa: E402
from tgsessions.service.runtime import Runtime  # noqa: E402

ROUNDS = 7


async def mean_us(step: Callable[[], Awaitable[object]], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await step()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return (time.perf_counter() - started) / count * 1e6


async def side_by_side(
    measured: Callable[[], Awaitable[object]], floor: Callable[[], Awaitable[object]], count: int
) -> tuple[float, float]:
    """Medians over ``ROUNDS`` alternating rounds of each (the machine is shared: alternating evens out its load)."""
    await mean_us(measured, 200)
    await mean_us(floor, 200)
    ours, floors = [], []
    for _ in range(ROUNDS):
        ours.append(await mean_us(measured, count // ROUNDS))
        floors.append(await mean_us(floor, count // ROUNDS))
    return statistics.median(ours), statistics.median(floors)


async def bench_key(runtime: Runtime) -> ApiKey:
    key, _plaintext = await runtime.keys.create(f"bench-{time.time_ns()}", [Scope.STATUS_READ],
                                                rate_limit_per_minute=1_000_000)  # fmt: skip
    return key


async def in_memory(settings: Settings, count: int) -> tuple[float, float]:
    """(limiter, bucket) in microseconds, in one runtime on the memory backend."""
    bucket = TokenBucket(1e9, 1e9, time.time())

    async def take() -> float:
        return bucket.try_take(time.time())

    async with open_runtime(settings) as runtime:
        key = await bench_key(runtime)
        return await side_by_side(lambda: runtime.limiter.check(key), take, count)


async def on_redis(settings: Settings, count: int) -> tuple[float, float]:
    """(limiter, raw script round trip) in microseconds, in one runtime on the Redis backend."""
    client = Redis.from_url(settings.redis_url)
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    raw_key = f"tgs:bench:{time.time_ns()}"
    try:
        async with open_runtime(settings) as runtime:
            key = await bench_key(runtime)
            figures = await side_by_side(lambda: runtime.limiter.check(key), lambda: script(keys=[raw_key]), count)
        await client.delete(raw_key, *[k async for k in client.scan_iter(match=f"tgs:limits:*{key.key_id}*")])
        return figures
    finally:
        await client.aclose()


async def main(checks: int, redis_url: str) -> None:
    with tempfile.TemporaryDirectory() as data:
        base = {"data_dir": Path(data), "telegram_backend": "simulated", "_env_file": None}
        memory_limiter, bucket = await in_memory(Settings(**base), checks)  # type: ignore[arg-type]
        shared = Settings(**base, cache_backend="redis", redis_url=redis_url)  # type: ignore[arg-type]
        redis_limiter, roundtrip = await on_redis(shared, checks)
    print(f"bucket_us: {bucket:.2f}")
    print(f"limiter_memory_us: {memory_limiter:.2f}")
    print(f"limiter_memory_over_bucket: {memory_limiter / bucket:.2f}")
    print(f"redis_roundtrip_us: {roundtrip:.1f}")
    print(f"limiter_redis_us: {redis_limiter:.1f}")
    print(f"limiter_redis_over_roundtrip: {redis_limiter / roundtrip:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.checks, arguments.redis_url))
