"""A narrated scenario in one process against the simulated Telegram: add an account, fetch, kill the primary,
fetch again (promotion), kill everything but the keeper, fetch again (mint), then status and history. Also the demo
accounts ``serve`` seeds in the simulated Telegram (:func:`seed_demo_accounts`).

Run: ``python -m tgsessions.demo`` (uses a throw-away data directory unless --data-dir is given).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the composition root is imported when the demo runs: `tgsessions --help` stays light
    from tgsessions.service.results import FetchResult
    from tgsessions.service.runtime import Runtime

PHONE = "79161234567"
DEMO_PHONES = ("79990000001", "79990000002", "79990000003")


def _describe(result: FetchResult) -> str:
    return f"session_id={result.session_id} ({result.how}, origin {result.origin}); the string stays secret"


async def narrate(runtime: Runtime, say: Callable[[str], None]) -> None:
    world = runtime.simulated
    if world is None:
        raise SystemExit("the demo needs the simulated Telegram backend")
    factory = runtime.factory
    say(f"Telegram backend: {factory.telegram_backend} (simulated: no real account is touched)")
    world.add_account(PHONE, two_fa="demo-2fa-password")
    primary = world.create_session(PHONE, age=timedelta(days=60))
    keeper = world.create_session(PHONE, age=timedelta(days=200))
    backups = [world.create_session(PHONE, age=timedelta(days=30 + i)) for i in range(2)]
    added = await factory.add_account(PHONE, primary=primary, keeper=keeper, backups=backups,
                                      two_fa="demo-2fa-password")  # fmt: skip
    say(f"1. added account {added.phone}: " + ", ".join(f"{s.role} {s.session_id}" for s in added.sessions))
    first = await factory.fetch_one(PHONE)
    say(f"2. fetch -> {_describe(first)}")
    world.revoke(primary)
    await runtime.cache.invalidate(first.session_id)  # as if the 5-minute verdict had expired
    say("3. the primary was revoked at Telegram (someone pressed 'terminate session')")
    second = await factory.fetch_one(PHONE)
    say(f"4. fetch -> {_describe(second)}: the newest live backup was promoted")
    await factory.drain()
    pool = await factory.list_backups(PHONE)
    for authorization in world.account(PHONE).authorizations:
        if authorization.alive and authorization.string != keeper:
            world.revoke(authorization.string)
    for session_id in [second.session_id, *(b.session_id for b in pool)]:
        await runtime.cache.invalidate(session_id)
    say(f"5. a background top-up minted {len(pool) - 1} backup(s); now every session but the keeper is revoked")
    third = await factory.fetch_one(PHONE)
    say(f"6. fetch -> {_describe(third)}: minted from the keeper by QR login (2FA password used)")
    status = await factory.session_status(PHONE)
    say(f"7. status: state={status.state}, primary alive={status.primary_alive}, backups "
        f"{status.live_backups}/{status.total_backups} live, reliability {status.reliability_level} "
        f"({status.reliability_score}), login attempts left today {status.login_attempts_left}")  # fmt: skip
    page = await factory.history(PHONE, limit=100)
    say("8. history, oldest first:")
    for event in reversed(page.events):
        reason = f" ({event.reason})" if event.reason else ""
        say(f"   {event.at:%H:%M:%S} {event.action.value:<14} {event.outcome:<8} {event.session_id or '-'}{reason}")


async def seed_demo_accounts(runtime: Runtime) -> list[str]:
    """With the simulated backend and no account stored yet: three demo phones, each with a keeper, a primary and
    two backups, so every endpoint can be tried at once. Returns the phones seeded (none when not applicable)."""
    from tgsessions.bootstrap import save_simulated_world

    world = runtime.simulated
    if world is None or await runtime.factory.list_accounts(limit=1):
        return []
    for phone in DEMO_PHONES:
        if world.lookup_account(phone) is None:
            world.add_account(phone)
        keeper = world.create_session(phone, age=timedelta(days=120))
        primary = world.create_session(phone, age=timedelta(days=60))
        backups = [world.create_session(phone, age=timedelta(days=30 + i)) for i in range(2)]
        await runtime.factory.add_account(phone, primary=primary, keeper=keeper, backups=backups, actor="demo-seed")
    save_simulated_world(runtime)
    return list(DEMO_PHONES)


async def run(data_dir: Path, say: Callable[[str], None] = print) -> None:
    from tgsessions.bootstrap import open_runtime
    from tgsessions.config import Settings

    settings = Settings(  # the demo's own world: nothing from the environment may point it elsewhere
        data_dir=data_dir,
        telegram_backend="simulated",
        cache_backend="memory",
        database_url=None,
        key_file=None,
        _env_file=None,
    )
    async with open_runtime(settings) as runtime:
        await narrate(runtime, say)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="keep the demo database here (default: a temporary folder)")
    args = parser.parse_args()
    if args.data_dir:
        asyncio.run(run(args.data_dir))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
