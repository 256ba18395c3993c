"""The bulk AccountRepository methods added for imports, on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

from tgsessions.domain.errors import AccountExists, InvalidInput
from tgsessions.domain.model import Account, ClientIdentity, Origin, Role, Session
from tgsessions.domain.ports import Database
from tgsessions.domain.secret import Secret
from tgsessions.testing.clock import FakeClock


async def test_bulk_reads_and_inserts(database: Database, clock: FakeClock) -> None:
    now = clock.now()
    batch = [Account(f"7916000000{i}", ClientIdentity(), now, now, two_fa=Secret(f"pw{i}")) for i in range(3)]
    async with database.unit_of_work() as uow:
        await uow.accounts.add_accounts(batch)
        ids = [a.id for a in batch]
        assert None not in ids and len(set(ids)) == 3
        sessions = [
            Session(
                f"s_{i}", ids[i], Role.PRIMARY, Origin.IMPORTED, ClientIdentity(), now, now, string=Secret(f"1s{i}")
            )  # type: ignore[arg-type]
            for i in range(3)
        ]
        await uow.accounts.add_sessions(sessions)
        assert all(s.id is not None for s in sessions)
        with pytest.raises(AccountExists):
            await uow.accounts.add_accounts([Account("79160000001", ClientIdentity(), now, now)])
        with pytest.raises(InvalidInput):
            await uow.accounts.add_sessions([Session("s_1", ids[0], Role.BACKUP, Origin.IMPORTED,  # type: ignore[arg-type]
                                                     ClientIdentity(), now, now, string=Secret("1x"))])  # fmt: skip
        await uow.commit()
    async with database.unit_of_work() as uow:
        found = await uow.accounts.accounts_by_phone(["79160000002", "79160000000", "79999999999"])
        assert sorted((a.phone, a.two_fa.reveal() if a.two_fa else None) for a in found) == [
            ("79160000000", "pw0"),
            ("79160000002", "pw2"),
        ]
        stored = await uow.accounts.sessions_by_id(["s_0", "s_2", "s_9"])
        assert sorted((s.session_id, s.string.reveal() if s.string else None) for s in stored) == [
            ("s_0", "1s0"),
            ("s_2", "1s2"),
        ]
        assert await uow.accounts.count_accounts() == 3
