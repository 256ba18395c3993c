"""Chaos benchmark: kill -9 a real `tgsessions serve` while its fetches must mint, restart it, and count the damage.

N accounts (simulated Telegram, saved in the data directory) each hold a keeper, a primary and a backup. Every round
kills the primary and backup of a few accounts at the simulated Telegram, starts the server, fires their fetches
(each must mint from the keeper) and kills the server with SIGKILL at a random moment while they run. Then the next
round. At the end the server runs once more until it has reconciled what the kills left open, and stops cleanly.

Figures, one per line: kills, orphans_left_by_kills and open_intents_after_kills (before the final start reconciles
them: what a crash leaves), orphan_authorizations (alive at Telegram, not held by the service, at the end),
accounts_lost, invariants_broken (two primaries, two keepers, a string stored twice), lease_takeover_s (the longest
a killed process's lease kept a phone blocked), minted_sessions_held, rounds_s.

Usage: .venv/bin/python bench/chaos.py [--kills 40] [--accounts 100] [--per-round 10] [--database-url URL] [--seed N]
With --database-url (postgresql+asyncpg://...) the database is emptied first. Needs nothing but this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py must not shadow the standard library's http package (httpx imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine  # noqa: E402

from tgsessions.bootstrap import migrate_database, open_runtime, save_simulated_world  # noqa: E402
from tgsessions.config import Settings  # noqa: E402
from tgsessions.domain.access import ALL_SCOPES  # noqa: E402
from tgsessions.domain.model import Role  # noqa: E402
from tgsessions.domain.session_codec import parse  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TGS = ROOT / ".venv" / "bin" / "tgsessions"


def phone(i: int) -> str:
    return f"7995{i:07d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Chaos:
    def __init__(self, data_dir: Path, database_url: str | None, accounts: int, rng: random.Random) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.accounts = accounts
        self.rng = rng
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TGS_")}
        self.env |= {"TGS_DATA_DIR": str(data_dir), "TGS_TELEGRAM_BACKEND": "simulated", "TGS_LOG_LEVEL": "WARNING",
                     "TGS_MAINTENANCE_INTERVAL_SECONDS": "0", "TGS_RATE_LIMIT_PER_MINUTE": "0"}  # fmt: skip
        if database_url:
            self.env["TGS_DATABASE_URL"] = database_url
        self.key = ""
        self.kill_within = 0.25  # seconds after the fetches start; set by calibrate()
        self.answers: dict[str, int] = {}  # fetch answers seen before the kills cut them: status code or error

    def settings(self) -> Settings:
        os.environ.update(self.env)
        return Settings()

    @asynccontextmanager
    async def raw_sql(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on the database through the bare driver, behind the service's back."""
        engine = create_async_engine(self.settings().effective_database_url())
        try:
            async with engine.begin() as conn:
                yield conn
        finally:
            await engine.dispose()

    async def seed(self) -> None:
        if self.database_url:  # a server database: its key file is made once, on purpose
            self.data_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(TGS), "keys", "init"], env=self.env, check=True, capture_output=True)  # noqa: S603, ASYNC221
            await migrate_database(self.settings())
            async with self.raw_sql() as conn:
                tables = text("SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                              "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'")  # fmt: skip
                names = (await conn.execute(tables)).scalar_one()
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        async with open_runtime(self.settings()) as runtime:
            world = runtime.simulated
            assert world is not None
            for i in range(self.accounts):
                world.add_account(phone(i))
                keeper = world.create_session(phone(i), age=timedelta(days=120))
                primary = world.create_session(phone(i), age=timedelta(days=60))
                backup = world.create_session(phone(i), age=timedelta(days=30))
                await runtime.factory.add_account(phone(i), primary=primary, keeper=keeper, backups=[backup])
            save_simulated_world(runtime)
            _record, self.key = await runtime.keys.create("chaos", ALL_SCOPES)

    async def kill_all_but_keepers(self, phones: list[str]) -> None:
        """At the simulated Telegram, between runs: the oldest authorization (the keeper) of each phone survives."""
        async with open_runtime(self.settings()) as runtime:
            world = runtime.simulated
            assert world is not None
            for number in phones:
                account = world.lookup_account(number)
                assert account is not None
                alive = sorted((a for a in account.authorizations if a.alive), key=lambda a: a.created_at)
                for auth in alive[1:]:
                    auth.alive = False
            save_simulated_world(runtime)

    def start(self, port: int) -> subprocess.Popen[bytes]:
        command = [str(TGS), "serve", "--port", str(port)]
        log = (self.data_dir.parent / "serve.log").open("ab")
        return subprocess.Popen(command, env=self.env, cwd=self.data_dir.parent, stdout=log, stderr=log)  # noqa: S603

    async def wait_up(self, base: str) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("the server did not come up")

    async def calibrate(self, phones: list[str]) -> float:
        """Seconds a round's fetches take on this machine and database when nothing is killed (the kill moment is
        drawn within that span, so kills land while mints run, on a fast or a slow database alike)."""
        await self.kill_all_but_keepers(phones)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = self.start(port)
        try:
            await self.wait_up(base)
            async with httpx.AsyncClient(timeout=30, headers={"X-API-Key": self.key}) as client:
                started = time.monotonic()
                await asyncio.gather(*(client.get(f"{base}/archived-clients/fetch/{p}") for p in phones))
                return max(time.monotonic() - started, 0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    async def round(self, phones: list[str]) -> tuple[float, float]:
        """Start, fetch (mints), kill -9 at a random moment; returns (kill time as epoch, seconds of the round)."""
        await self.kill_all_but_keepers(phones)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        process = self.start(port)
        try:
            await self.wait_up(base)
            async with httpx.AsyncClient(timeout=30, headers={"X-API-Key": self.key}) as client:
                fetches = [asyncio.create_task(client.get(f"{base}/archived-clients/fetch/{p}")) for p in phones]
                await asyncio.sleep(self.rng.uniform(0.0, self.kill_within))
                process.send_signal(signal.SIGKILL)
                killed = time.time()
                for answer in await asyncio.gather(*fetches, return_exceptions=True):
                    code = answer.status_code if isinstance(answer, httpx.Response) else type(answer).__name__
                    self.answers[str(code)] = self.answers.get(str(code), 0) + 1
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
        return killed, time.monotonic() - started

    async def lease_block_after(self, killed: float) -> float:
        """How long after the kill the dead process's leases still blocked their phones (0 when none was held)."""
        async with self.raw_sql() as conn:
            latest = (await conn.execute(text("SELECT max(expires_at) FROM leases"))).scalar_one_or_none()
        if latest is None:
            return 0.0
        if isinstance(latest, str):  # SQLite keeps the service's UTC datetimes as text
            latest = datetime.fromisoformat(latest)
        if latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return max(0.0, (latest - datetime.fromtimestamp(killed, UTC)).total_seconds())

    async def settle(self) -> None:
        """Run the server until start-up reconciliation has closed every open mint intent, then stop it cleanly."""
        port = free_port()
        process = self.start(port)
        try:
            await self.wait_up(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and await self.open_intents():  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    async def open_intents(self) -> int:
        async with open_runtime(self.settings()) as runtime, runtime.database.unit_of_work() as uow:
            return len(await uow.audit.phones_with_open_login_attempts())

    async def census(self) -> dict[str, int]:
        """Orphans, lost accounts and broken invariants, from the database and the simulated Telegram."""
        held: set[bytes] = set()
        broken = 0
        found = 0
        minted = 0
        async with open_runtime(self.settings()) as runtime:
            world = runtime.simulated
            assert world is not None
            for i in range(self.accounts):
                async with runtime.database.unit_of_work() as uow:
                    account = await uow.accounts.get_account(phone(i))
                    if account is None or account.id is None:
                        continue
                    found += 1
                    sessions = await uow.sessions.sessions(account.id)
                strings = [s.string.reveal() for s in sessions if s.string is not None]
                keys = [parse(t).data.auth_key for t in strings]
                held.update(keys)
                roles = [s.role for s in sessions]
                broken += roles.count(Role.PRIMARY) > 1 or roles.count(Role.KEEPER) > 1 or len(set(keys)) < len(keys)
                minted += sum(s.origin.value == "minted" for s in sessions)
        orphans = sum(
            1
            for i in range(self.accounts)
            for auth in (world.lookup_account(phone(i)) or _none()).authorizations
            if auth.alive and auth.auth_key not in held
        )
        return {"orphan_authorizations": orphans, "accounts_lost": self.accounts - found,
                "invariants_broken": broken, "minted_sessions_held": minted}  # fmt: skip


class _none:  # a stand-in for a missing simulated account
    authorizations: tuple[()] = ()


async def main(kills: int, accounts: int, per_round: int, database_url: str | None, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="tgs-chaos-") as tmp:
        chaos = Chaos(Path(tmp) / "data", database_url, accounts, rng)
        await chaos.seed()
        chaos.kill_within = await chaos.calibrate([phone(accounts - 1 - j) for j in range(per_round)])
        takeover = 0.0
        started = time.monotonic()
        for kill in range(kills):
            phones = [phone((kill * per_round + j) % accounts) for j in range(per_round)]
            killed, _seconds = await chaos.round(phones)
            takeover = max(takeover, await chaos.lease_block_after(killed))
        rounds_s = time.monotonic() - started
        left = (await chaos.census())["orphan_authorizations"]  # what the kills left, before any reconciliation
        intents = await chaos.open_intents()
        await chaos.settle()
        figures: dict[str, float] = {"kills": kills, "orphans_left_by_kills": left, "open_intents_after_kills": intents}
        figures |= await chaos.census()
        figures["lease_takeover_s"] = round(takeover, 2)
        figures["rounds_s"] = round(rounds_s, 1)
        figures["kill_within_s"] = round(chaos.kill_within, 3)
        figures["fetch_answers"] = ", ".join(f"{k}={v}" for k, v in sorted(chaos.answers.items()))  # type: ignore[assignment]
        return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(main(args.kills, args.accounts, args.per_round, args.database_url, args.seed))
    for name, value in result.items():
        print(f"{name}: {value}")
    sys.exit(0)
