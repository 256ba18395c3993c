"""The simulated Telegram survives a restart of a server that uses it: a snapshot, and a journal of every change."""

from __future__ import annotations

import base64
import json
import stat
from datetime import timedelta
from pathlib import Path

from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import MintedSession, SessionAccess
from tgsessions.domain.secret import Secret
from tgsessions.testing.clock import FakeClock

PHONE = "79160000001"


async def test_state_round_trips_through_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "world.json"
    gateway = PersistentSimulatedGateway.open(clock, path)
    world = gateway.world
    world.add_account(PHONE, two_fa="pw")
    keeper = world.create_session(PHONE, age=timedelta(days=3))
    doomed = world.create_session(PHONE)
    gateway.save()
    minted = await gateway.mint(SessionAccess(keeper, PHONE, ClientIdentity()), new_identity=ClientIdentity(),
                                two_fa=world.account(PHONE).two_fa)  # fmt: skip
    await gateway.log_out(SessionAccess(doomed, PHONE, ClientIdentity()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    reopened = PersistentSimulatedGateway.open(clock, path)
    again = reopened.world
    assert again.is_alive(keeper) and again.is_alive(minted.string) and not again.is_alive(doomed)
    assert again.login_attempts(PHONE) == 1
    verdict = await reopened.validate(SessionAccess(minted.string, PHONE, ClientIdentity()))
    assert verdict.is_alive
    assert again.account(PHONE).authorizations[0].created_at == clock.now() - timedelta(days=3)


async def test_a_missing_file_means_an_empty_world(tmp_path: Path, clock: FakeClock) -> None:
    gateway = PersistentSimulatedGateway.open(clock, tmp_path / "absent.json")
    assert gateway.world.all_accounts() == []


# --- the journal: O(1) I/O per change, replay, compaction, old files ----------------------------------------------


def seeded(clock: FakeClock, path: Path, accounts: int, **compaction: float) -> PersistentSimulatedGateway:
    """A saved world of ``accounts`` accounts with two old sessions each (the first is PHONE)."""
    gateway = PersistentSimulatedGateway.open(clock, path, **compaction)  # type: ignore[arg-type]
    for i in range(accounts):
        phone = PHONE if i == 0 else f"7917{i:07d}"
        gateway.world.add_account(phone, dc_id=2)
        for _ in range(2):
            gateway.world.create_session(phone, age=timedelta(days=3))
    gateway.save()
    return gateway


async def mint_once(gateway: PersistentSimulatedGateway) -> MintedSession:
    keeper = gateway.world.account(PHONE).authorizations[0].string
    return await gateway.mint(SessionAccess(keeper, PHONE, ClientIdentity()), new_identity=ClientIdentity(),
                              two_fa=None)  # fmt: skip


async def test_a_mint_appends_the_same_few_hundred_bytes_whatever_the_size_of_the_world(
    tmp_path: Path, clock: FakeClock
) -> None:
    written = []
    for accounts in (2, 2000):
        gateway = seeded(clock, tmp_path / f"world-{accounts}.json", accounts)
        snapshot = gateway.path.read_bytes()
        await mint_once(gateway)
        assert gateway.path.read_bytes() == snapshot  # the snapshot is not rewritten
        written.append(gateway.journal_path.stat().st_size)
        assert stat.S_IMODE(gateway.journal_path.stat().st_mode) == 0o600
    small, large = written
    assert 0 < small < 2000
    assert abs(large - small) < 40  # two lines (the account, the new authorization); only the digits may differ


async def test_the_journal_is_replayed_in_order_at_open(tmp_path: Path, clock: FakeClock) -> None:
    gateway = seeded(clock, tmp_path / "world.json", 3)
    first, second = (a.string for a in gateway.world.account(PHONE).authorizations)
    minted = await mint_once(gateway)
    await gateway.log_out(SessionAccess(second, PHONE, ClientIdentity()))
    await gateway.log_out(SessionAccess(minted.string, PHONE, ClientIdentity()))  # the new one, ended at once
    gateway.world.ban("79170000002")  # a fault injected without a save: kept when the gateway closes
    await gateway.aclose()
    assert len(gateway.journal_path.read_text().splitlines()) == 5  # account, mint, log out x2, the ban

    again = PersistentSimulatedGateway.open(clock, gateway.path).world
    assert again.is_alive(first) and not again.is_alive(second) and not again.is_alive(minted.string)
    assert again.login_attempts(PHONE) == 1
    assert again.account("79170000002").is_dead and not again.account("79170000001").is_dead
    assert [a.hash for a in again.account(PHONE).authorizations] == [
        a.hash for a in gateway.world.account(PHONE).authorizations
    ]


async def test_the_journal_is_compacted_into_a_new_snapshot_once_it_outgrows_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    gateway = seeded(clock, tmp_path / "world.json", 2, compact_factor=0.5, compact_min_bytes=0)
    limit = 0.5 * gateway.path.stat().st_size
    minted = [await mint_once(gateway)]
    assert 0 < gateway.journal_bytes <= limit
    while gateway.journal_bytes > 0:  # a few more mints, until the journal passes half the snapshot
        minted.append(await mint_once(gateway))
    assert gateway.journal_path.stat().st_size == 0 and len(minted) > 1
    clock.advance(hours=25)
    minted.append(await mint_once(gateway))  # appending goes on after the compaction
    reopened = PersistentSimulatedGateway.open(clock, gateway.path).world
    assert all(reopened.is_alive(m.string) for m in minted)
    assert reopened.login_attempts(PHONE) == 1  # those of the last 24 h only


def test_a_world_written_before_the_journal_is_read_and_rewritten_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "simulated-telegram.json"
    key = base64.b64encode(bytes(range(256))[::-1]).decode()
    identity = {f: getattr(ClientIdentity(), f) for f in ClientIdentity.__dataclass_fields__}
    authorization = {"created_at": "2026-01-01T00:00:00+00:00", "hash": 42, "identity": identity, "auth_key": key,
                     "alive": True}  # fmt: skip
    account = {"phone": PHONE, "dc_id": 2, "two_fa": "pw", "state": "active", "frozen": False, "qr_enabled": True,
               "login_attempts": [], "authorizations": [authorization]}  # fmt: skip
    path.write_text(json.dumps({"format": 1, "accounts": [account]}))

    world = PersistentSimulatedGateway.open(clock, path).world
    auth = world.account(PHONE).authorizations[0]
    assert (auth.hash, auth.auth_key, auth.alive, auth.password_pending) == (42, bytes(range(256))[::-1], True, False)
    assert world.account(PHONE).two_fa == Secret("pw")
    assert json.loads(path.read_text())["format"] == 2
    assert PersistentSimulatedGateway.open(clock, path).world.is_alive(auth.string)


async def test_a_torn_last_line_ends_the_replay_and_appending_starts_clean(tmp_path: Path, clock: FakeClock) -> None:
    gateway = seeded(clock, tmp_path / "world.json", 2)
    kept = await mint_once(gateway)
    with gateway.journal_path.open("ab") as journal:
        journal.write(b'{"generation": "torn by a cra')

    reopened = PersistentSimulatedGateway.open(clock, gateway.path)
    assert reopened.world.is_alive(kept.string)
    assert reopened.journal_path.stat().st_size == 0  # rewritten as a snapshot
    later = await mint_once(reopened)
    last = PersistentSimulatedGateway.open(clock, gateway.path).world
    assert last.is_alive(kept.string) and last.is_alive(later.string)


async def test_journal_lines_of_an_older_snapshot_are_ignored(tmp_path: Path, clock: FakeClock) -> None:
    gateway = seeded(clock, tmp_path / "world.json", 2)
    await mint_once(gateway)
    stale = gateway.journal_path.read_bytes()
    gateway.world.ban(PHONE)
    gateway.save()  # a new snapshot ... and a crash before the journal was emptied:
    gateway.journal_path.write_bytes(stale)
    world = PersistentSimulatedGateway.open(clock, gateway.path).world
    assert world.account(PHONE).is_dead  # the snapshot's state, not the stale line's
    assert world.login_attempts(PHONE) == 1
