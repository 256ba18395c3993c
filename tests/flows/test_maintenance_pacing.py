"""Pacing: token buckets on a fake clock, the PacedGateway decorator, and maintenance runs paced while fetch is not."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest

from tests.flows.conftest import seed
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Authorization, Cipher, Database, MintedSession, SessionAccess
from tgsessions.domain.runs import RunStatus
from tgsessions.domain.secret import Secret
from tgsessions.domain.verdict import Verdict
from tgsessions.service.factory import SessionFactory
from tgsessions.service.maintenance.pacing import PacedGateway, Pacer, TokenBucket
from tgsessions.service.options import FactoryOptions, MaintenanceOptions
from tgsessions.testing.clock import FakeClock


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """A TelegramGateway that writes down when each call arrived (on ``when``) and for which phone."""

    backend = "recorder"

    def __init__(self, when: FakeTime | FakeClock, inner: SimulatedTelegramGateway | None = None) -> None:
        self._when = when
        self._inner = inner
        self.calls: list[tuple[float, str, str]] = []

    def _now(self) -> float:
        return self._when.now if isinstance(self._when, FakeTime) else self._when.now().timestamp()

    def _note(self, kind: str, phone: str) -> None:
        self.calls.append((self._now(), kind, phone))

    async def validate(self, access: SessionAccess) -> Verdict:
        self._note("validate", access.phone)
        assert self._inner is not None
        return await self._inner.validate(access)

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        self._note("mint", source.phone)
        assert self._inner is not None
        return await self._inner.mint(source, new_identity=new_identity, two_fa=two_fa)

    async def log_out(self, access: SessionAccess) -> None:
        self._note("log_out", access.phone)
        if self._inner is not None:
            await self._inner.log_out(access)

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        self._note("revoke_other", source.phone)
        if self._inner is not None:
            await self._inner.revoke_other(source, auth_hash)

    async def authorizations(self, access: SessionAccess) -> Sequence[Authorization]:
        self._note("authorizations", access.phone)
        return [] if self._inner is None else await self._inner.authorizations(access)


def access(phone: str) -> SessionAccess:
    return SessionAccess(Secret("not-a-real-session"), phone, ClientIdentity())


# --- the buckets --------------------------------------------------------------------------------------------------


def test_token_bucket_bursts_to_capacity_then_spaces_calls() -> None:
    bucket = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]  # reservations queue up
    assert bucket.reserve(10.0) == 0.0  # refilled (to capacity only)
    assert bucket.reserve(10.0) == 0.0
    assert bucket.reserve(10.0) == 0.5
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=0.0, capacity=1.0, now=0.0)


def test_a_clock_that_goes_back_does_not_stall_the_bucket() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1.0, now=1000.0)
    assert bucket.reserve(1000.0) == 0.0
    assert bucket.reserve(10.0) == 1.0  # empty, and the clock jumped back: one token period, not 990 s
    assert bucket.reserve(12.0) == 0.0


async def test_overall_rate_spaces_calls_across_accounts() -> None:
    time = FakeTime()
    inner = Recorder(time)
    gateway = PacedGateway(inner, Pacer(calls_per_second=2.0, sleep=time.sleep, monotonic=time.monotonic))
    assert gateway.backend == "recorder"
    for i in range(6):
        await gateway.log_out(access(f"7900000000{i}"))
    assert [t for t, _, _ in inner.calls] == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert gateway.pacer.waited == pytest.approx(2.0)


async def test_per_account_rate_holds_one_account_back_and_not_the_others() -> None:
    time = FakeTime()
    inner = Recorder(time)
    gateway = PacedGateway(inner, Pacer(account_calls_per_minute=6.0, sleep=time.sleep, monotonic=time.monotonic))
    for _ in range(8):  # a burst of a minute's worth (6), then one every 10 s
        await gateway.revoke_other(access("79000000001"), 1)
    await gateway.authorizations(access("79000000002"))  # another account is not held back
    times = [t for t, _, phone in inner.calls if phone == "79000000001"]
    assert times == [0.0] * 6 + [10.0, 20.0]
    assert inner.calls[-1] == (20.0, "authorizations", "79000000002")


async def test_both_limits_apply_together() -> None:
    time = FakeTime()
    inner = Recorder(time)
    pacer = Pacer(calls_per_second=1.0, account_calls_per_minute=2.0, sleep=time.sleep, monotonic=time.monotonic)
    gateway = PacedGateway(inner, pacer)
    for phone in ("79000000001", "79000000001", "79000000001", "79000000002"):
        await gateway.log_out(access(phone))
    # overall: one per second; the third call on the first account waits for its per-account token (30 s)
    assert [t for t, _, _ in inner.calls] == [0.0, 1.0, 30.0, 31.0]


async def test_concurrent_callers_queue_in_order() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:  # time stands still: every caller reserves at t=0
        waits.append(seconds)

    pacer = Pacer(calls_per_second=1.0, sleep=record, monotonic=lambda: 0.0)
    await asyncio.gather(*(pacer.acquire(f"7900000000{i}") for i in range(4)))
    assert waits == [1.0, 2.0, 3.0]


async def test_zero_rates_do_not_pace() -> None:
    time = FakeTime()
    pacer = Pacer(sleep=time.sleep, monotonic=time.monotonic)
    assert not pacer.enabled
    for _ in range(100):
        await pacer.acquire("79000000001")
    assert time.sleeps == []


# --- maintenance runs are paced, fetch is not ---------------------------------------------------------------------


async def test_maintenance_is_paced_and_fetch_is_not(
    database: Database, world: SimulatedTelegram, cipher: Cipher, clock: FakeClock, options: FactoryOptions
) -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # the fake clock moves only when something sleeps
        sleeps.append(seconds)
        clock.advance(seconds)

    recorder = Recorder(clock, SimulatedTelegramGateway(world))
    pacing = MaintenanceOptions(calls_per_second=0.1, account_calls_per_minute=0.0)
    factory = SessionFactory(
        db=database, gateway=recorder, cache=MemoryVerdictCache(clock), cipher=cipher, clock=clock,
        options=replace(options, maintenance=pacing), sleep=sleep,
    )  # fmt: skip
    try:
        phones = [(await seed(factory, world, f"7916000010{i}")).phone for i in range(3)]
        clock.advance(hours=25)  # every session is due for its keep-alive
        recorder.calls.clear()

        run = await factory.start_maintenance()
        await factory.wait_for_maintenance()
        done = await factory.maintenance_run(run.id or 0)
        assert done.status is RunStatus.FINISHED, done.error
        times = [t for t, kind, _ in recorder.calls]
        kinds = [kind for _, kind, _ in recorder.calls]
        assert kinds.count("validate") == 3 * 4  # keeper, primary and two backups of each account, reconnected once
        assert kinds.count("authorizations") == 3  # one listing per account, for unknown authorizations
        assert len(times) == 3 * 5
        assert all(b - a == pytest.approx(10.0) for a, b in itertools.pairwise(times))
        assert sum(sleeps) == pytest.approx(140.0)  # 15 calls, 10 s apart
        assert done.report["paced_seconds"] == pytest.approx(140.0)
        assert done.report["kept_alive"] == 12

        clock.advance(seconds=301)  # the verdict cache has expired: each fetch asks Telegram
        recorder.calls.clear()
        sleeps.clear()
        for phone in phones:
            assert (await factory.fetch_one(phone)).session
        assert len(recorder.calls) == 3
        assert sleeps == []  # fetch went straight to Telegram
    finally:
        await factory.aclose()


def test_pacing_must_fit_the_validation_timeout() -> None:
    from pydantic import ValidationError

    from tgsessions.config import Settings

    with pytest.raises(ValidationError, match="TGS_MAINTENANCE_ACCOUNT_CALLS_PER_MINUTE is too low"):
        Settings(_env_file=None, maintenance_account_calls_per_minute=6, validation_timeout=10)
    with pytest.raises(ValidationError, match="TGS_MAINTENANCE_CALLS_PER_SECOND is too low"):
        Settings(_env_file=None, maintenance_calls_per_second=0.1)
    settings = Settings(_env_file=None, maintenance_calls_per_second=0, maintenance_account_calls_per_minute=0)
    assert settings.maintenance_interval_seconds == 3600 and settings.keepalive_hours == 24
