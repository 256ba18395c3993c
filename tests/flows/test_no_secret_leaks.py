"""No session string or password in any log line, exception text, repr or audit event of the failure paths."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.flows.conftest import PHONE, MakeFactory, seed
from tests.support.db_fixtures import ALL_BACKENDS, on_backends
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import TgSessionsError
from tgsessions.domain.secret import Secret
from tgsessions.testing.clock import FakeClock

PASSWORD = "hunter2-very-secret-2fa"

# every backend: on SQL the captured DEBUG log holds the database driver's records, and an error can carry the
# driver's exception as its cause; neither may show a secret
pytestmark = on_backends(*ALL_BACKENDS)


async def test_failure_paths_leak_no_secret(
    make_factory: MakeFactory, world: SimulatedTelegram, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    factory = make_factory(top_up_in_background=True)
    seeded = await seed(factory, world, backups=2, two_fa=PASSWORD)
    secrets: list[str] = [s.reveal() for s in seeded.all()] + [PASSWORD]
    texts: list[str] = []

    async def expect_error(call: object) -> None:
        try:
            await call  # type: ignore[misc]
        except TgSessionsError as exc:
            texts.extend([str(exc), repr(exc), exc.message, repr(exc.__dict__)])
            if exc.__cause__ is not None:
                texts.append(repr(exc.__cause__))
        else:
            raise AssertionError("the call was expected to fail")

    world.add_account("447700900123")
    foreign = world.create_session("447700900123")
    dead = world.create_session(PHONE)
    world.revoke(dead)
    secrets += [foreign.reveal(), dead.reveal()]
    await expect_error(factory.update_session(PHONE, foreign))
    await expect_error(factory.update_session(PHONE, dead))
    await expect_error(factory.update_session(PHONE, seeded.keeper))
    await expect_error(factory.add_account(PHONE, primary=seeded.primary))
    world.server_error(PHONE, calls=3)
    await expect_error(factory.fetch_one(PHONE))
    clock.advance(61)
    world.flood_wait(PHONE, 30)
    await expect_error(factory.fetch_one(PHONE))
    clock.advance(31)
    texts.append(repr(await factory.fetch_one(PHONE)))
    # minting with a wrong password, then a spent budget, then nothing alive
    world.set_two_fa(PHONE, "the-owner-changed-it")
    for s in [seeded.primary, *seeded.backups]:
        world.revoke(s)
    clock.advance(301)
    await expect_error(factory.fetch_one(PHONE))
    world.set_two_fa(PHONE, PASSWORD)
    for _ in range(6):
        try:
            result = await factory.fetch_one(PHONE)
        except TgSessionsError as exc:
            texts.append(str(exc))
            continue
        secrets.append(result.session.reveal())
        texts.append(repr(result))
        world.revoke(result.session)
        clock.advance(301)
    await factory.drain()
    assert seeded.keeper is not None
    world.revoke(seeded.keeper)
    clock.advance(timedelta(days=1).total_seconds())
    await expect_error(factory.fetch_one(PHONE))
    world.ban(PHONE)
    clock.advance(301)
    texts.append(repr(await factory.session_status(PHONE)))
    texts.append(repr(await factory.list_backups(PHONE)))
    texts.append(repr(await factory.history(PHONE, limit=500)))
    texts.append(repr(factory))
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(repr(record.args) for record in caplog.records)
    haystack = "\n".join(texts)
    assert "login_budget_spent" in haystack or "login budget" in haystack  # the paths above really ran
    assert "unrecoverable" in haystack and "two_factor_invalid" in repr(await factory.history(PHONE, limit=500))
    leaked = [i for i, secret in enumerate(secrets) if secret in haystack or secret[:24] in haystack]
    assert not leaked, f"secrets #{leaked} appeared in logs, errors or reprs"
    assert all(isinstance(s, str) and s for s in secrets) and not isinstance(secrets[0], Secret)
