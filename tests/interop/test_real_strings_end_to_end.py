"""1,000 session strings made by the real GramJS go in through every entry a migrating operator uses — ``import
mongo-export``, POST ``/archived-clients``, PUT ``/{mobile}/session``, ``accounts import`` — and come out of
``export --include-secrets`` and fetch with the same DC, address, port and auth key, read back by the real GramJS,
Telethon and Pyrogram. The strings cover the five production DCs, the three test DCs, IPv6 and ports 80/443/5222.

Everything runs on the embedded SQLite in a temporary data directory with the simulated Telegram, as the CLI and the
server run there. Keys are secrets: comparisons are of sha256 digests, and no assertion message holds a string."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import Result
from telethon.sessions import StringSession
from typer.testing import CliRunner

from tests.interop.gramjs import Loaded, Spec, load_gramjs, make_gramjs
from tests.interop.pyrogram_lib import load_pyrogram
from tests.support.cli_env import clean_cli_environment
from tgsessions.adapters.telegram.simulated.persistence import PersistentSimulatedGateway
from tgsessions.api.app import create_app
from tgsessions.bootstrap import open_runtime
from tgsessions.cli.main import app as cli_app
from tgsessions.config import Settings
from tgsessions.domain.access import ALL_SCOPES
from tgsessions.domain.model import Account, ClientIdentity, Origin, Role, Session
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import PRODUCTION_DCS, TEST_DCS
from tgsessions.service.runtime import Runtime

COUNT = 1000
PER_RECORD = 4  # a primary and three oldSessions per archivedClients record
PORTS = (80, 443, 5222)
TELEGRAM_IPV6 = {
    1: "2001:b28:f23d:f001::a",
    2: "2001:67c:4e8:f002::a",
    3: "2001:b28:f23d:f003::a",
    4: "2001:67c:4e8:f004::a",
    5: "2001:b28:f23f:f005::a",
}


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def placement(i: int) -> tuple[int, str, int]:
    """String ``i``'s DC, address and port: production DCs (IPv4), test DCs and IPv6, over every port."""
    port = PORTS[i % len(PORTS)]
    kind = i % 10
    if kind < 5:
        return kind + 1, PRODUCTION_DCS[kind + 1], port
    if kind < 7:
        dc = (i // 10) % 3 + 1
        return dc, TEST_DCS[dc], port
    dc = (i // 10) % 5 + 1
    return dc, TELEGRAM_IPV6[dc], port


def spec(i: int, key: bytes | None = None) -> Spec:
    dc, address, port = placement(i)
    return Spec(dc, address, port, key or hashlib.sha256(f"interop {i}".encode()).digest() * 8)


def phone(i: int) -> str:
    return f"7990{i:07d}"


@dataclass(frozen=True)
class Made:
    specs: list[Spec]
    strings: list[str]  # GramJS's own StringSession.save() text, one per spec

    def by_key(self) -> dict[str, Spec]:
        return {digest(s.auth_key): s for s in self.specs}


@pytest.fixture(scope="module")
def made() -> Made:
    specs = [spec(i) for i in range(COUNT)]
    return Made(specs, make_gramjs(specs))


def test_the_strings_cover_every_placement(made: Made) -> None:
    placements = Counter((s.address, s.port) for s in made.specs)
    addresses = {s.address for s in made.specs}
    assert set(PRODUCTION_DCS.values()) | set(TEST_DCS.values()) | set(TELEGRAM_IPV6.values()) == addresses
    assert {port for _address, port in placements} == set(PORTS)
    assert len({digest(s.auth_key) for s in made.specs}) == COUNT
    assert all(text.startswith("1") for text in made.strings)


# -- the same data out -----------------------------------------------------------------------------------------------


def same_as_gramjs_read(loaded: list[Loaded | str], expected: dict[str, Spec]) -> int:
    """How many of the strings GramJS read back carry exactly a spec's DC, address, port and key."""
    matched = 0
    for back in loaded:
        assert not isinstance(back, str), f"GramJS refused an exported string: {back}"
        wanted = expected.get(digest(back.auth_key))
        if wanted is not None and (back.dc_id, back.address, back.port) == (wanted.dc_id, wanted.address, wanted.port):
            matched += 1
    return matched


def same_as_telethon_read(strings: list[str], expected: dict[str, Spec]) -> int:
    matched = 0
    for text in strings:
        back = StringSession(text)
        wanted = expected.get(digest(back.auth_key.key))
        if wanted is not None and (back.dc_id, back.server_address, back.port) == (
            wanted.dc_id,
            wanted.address,
            wanted.port,
        ):
            matched += 1
    return matched


# -- the CLI and the server, in-process on one data directory -------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = clean_cli_environment(tmp_path, monkeypatch)
    monkeypatch.setenv("TGS_RATE_LIMIT_PER_MINUTE", "0")  # thousands of requests in a few seconds
    return data


def cli(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli_app, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr[-2000:]
    return result


def exported(tmp_path: Path, *extra: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """``tgsessions export --include-secrets`` as the archivedClients and users documents it wrote."""
    clients, users = tmp_path / "out.json", tmp_path / "out-users.json"
    cli("export", str(clients), "--users", str(users), "--include-secrets", "--json-array", *extra)
    return json.loads(clients.read_text()), json.loads(users.read_text())


def strings_of(documents: list[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for document in documents:
        if isinstance(session := document.get("session"), str):
            found.append(session)
        old = document.get("oldSessions", [])
        assert isinstance(old, list)
        found.extend(str(s) for s in old)
    return found


KEY_NUMBERS = itertools.count()


@dataclass
class Server:
    runtime: Runtime
    client: httpx.AsyncClient


@asynccontextmanager
async def server() -> AsyncIterator[Server]:
    """The HTTP API as ``tgsessions serve`` builds it, on the data directory, with a key of every scope."""
    async with open_runtime(Settings()) as runtime:
        _record, key = await runtime.keys.create(f"interop-{next(KEY_NUMBERS)}", ALL_SCOPES)

        @asynccontextmanager
        async def open_test_runtime() -> AsyncIterator[Runtime]:
            yield runtime

        app = create_app(open_test_runtime)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://tgsessions", headers={"X-API-Key": key}
            ) as client,
        ):
            yield Server(runtime, client)


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- entries --------------------------------------------------------------------------------------------------------


def test_mongo_export_of_real_gramjs_strings_survives_import_and_export(
    made: Made, data_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "archivedClients.json"
    with source.open("w") as out:
        for record, group in enumerate(chunks(made.strings, PER_RECORD)):
            out.write(json.dumps({"mobile": phone(record), "session": group[0], "oldSessions": group[1:]}) + "\n")
    report = json.loads(cli("import", "mongo-export", str(source), "--json").stdout)
    assert report["formats"] == {"gramjs": COUNT}
    assert report["rejected"] == []

    clients, _users = exported(tmp_path)
    as_arrived = strings_of(clients)
    assert len(as_arrived) == COUNT
    assert same_as_gramjs_read(load_gramjs(as_arrived), made.by_key()) == COUNT
    assert sorted(as_arrived) == sorted(made.strings)  # GramJS's own text, byte for byte

    telethon, _ = exported(tmp_path, "--session-format", "telethon")
    assert same_as_telethon_read(strings_of(telethon), made.by_key()) == COUNT


def test_rest_add_of_real_gramjs_strings_survives_export(made: Made, data_dir: Path, tmp_path: Path) -> None:
    async def add_all() -> None:
        async with server() as api:
            for record, group in enumerate(chunks(made.strings, PER_RECORD)):
                body = {"mobile": phone(record), "session": group[0], "oldSessions": group[1:]}
                answer = await api.client.post("/archived-clients", json=body)
                assert answer.status_code == 201, answer.text

    asyncio.run(add_all())
    clients, _users = exported(tmp_path)
    assert same_as_gramjs_read(load_gramjs(strings_of(clients)), made.by_key()) == COUNT


@pytest.fixture
def live_strings(data_dir: Path) -> Made:
    """COUNT authorizations alive in the simulated Telegram of the data directory (one account each), written by
    GramJS with the placements above; the accounts are stored with only a keeper (another authorization)."""

    async def create() -> list[bytes]:
        async with server() as api:
            world = api.runtime.simulated
            assert world is not None
            keys = []
            for i in range(COUNT):
                world.add_account(phone(i))
                keys.append(StringSession(world.create_session(phone(i)).reveal()).auth_key.key)
                keeper = world.create_session(phone(i)).reveal()
                answer = await api.client.post("/archived-clients", json={"mobile": phone(i), "keeperSession": keeper})
                assert answer.status_code == 201, answer.text
            gateway = api.runtime.gateway
            assert isinstance(gateway, PersistentSimulatedGateway)
            gateway.save()  # the world lives in the data directory, for the next command
            return keys

    specs = [spec(i, key) for i, key in enumerate(asyncio.run(create()))]
    return Made(specs, make_gramjs(specs))


def test_put_session_of_real_gramjs_strings_survives_export_and_fetch_in_every_layout(
    live_strings: Made, tmp_path: Path
) -> None:
    async def put_and_fetch() -> tuple[list[str], list[str], list[str]]:
        gramjs, telethon, pyrogram = [], [], []
        async with server() as api:
            for i, text in enumerate(live_strings.strings):
                answer = await api.client.put(f"/archived-clients/{phone(i)}/session", json={"newSession": text})
                assert answer.status_code == 200, answer.text
            for i in range(COUNT):
                for fmt, out in (("gramjs", gramjs), ("telethon", telethon), ("pyrogram", pyrogram)):
                    answer = await api.client.get(f"/archived-clients/fetch/{phone(i)}", params={"format": fmt})
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["format"] == fmt
                    out.append(answer.json()["session"])
        return gramjs, telethon, pyrogram

    gramjs, telethon, pyrogram = asyncio.run(put_and_fetch())
    expected = live_strings.by_key()
    clients, _users = exported(tmp_path)
    assert same_as_gramjs_read(load_gramjs(strings_of(clients)), expected) == COUNT
    assert same_as_gramjs_read(load_gramjs(gramjs), expected) == COUNT
    assert same_as_telethon_read(telethon, expected) == COUNT
    assert asyncio.run(same_as_pyrogram_read(pyrogram, expected)) == COUNT


async def same_as_pyrogram_read(strings: list[str], expected: dict[str, Spec]) -> int:
    """Pyrogram keeps no address or port: the DC and the key must match, and the test flag the DC table's."""
    matched = 0
    for text in strings:
        back = await load_pyrogram(text)
        wanted = expected.get(digest(back.auth_key))
        test_dc = wanted is not None and wanted.address in TEST_DCS.values()
        if wanted is not None and back.dc_id == wanted.dc_id and back.test_mode is test_dc and back.user_id > 0:
            matched += 1
    return matched


def test_accounts_import_of_real_gramjs_strings_survives_export(live_strings: Made, tmp_path: Path) -> None:
    source = tmp_path / "session.txt"
    for i, text in enumerate(live_strings.strings):
        source.write_text(text + "\n")
        result = cli("accounts", "import", phone(i), str(source), "--as", "backup")
        assert "as the backup of" in result.stdout
        assert text not in result.stdout + result.stderr
    clients, _users = exported(tmp_path)
    assert same_as_gramjs_read(load_gramjs(strings_of(clients)), live_strings.by_key()) == COUNT


def test_a_database_holding_real_gramjs_text_verbatim_is_repaired(made: Made, data_dir: Path, tmp_path: Path) -> None:
    """What 0.1 left behind: GramJS text stored as if it were Telethon's, named by the text, with no layout."""

    async def plant() -> None:
        async with open_runtime(Settings()) as runtime:
            cipher = runtime.cipher
            now = datetime.now(UTC)
            async with runtime.database.unit_of_work() as uow:
                for record, group in enumerate(chunks(made.strings, PER_RECORD)):
                    account = await uow.accounts.add_account(Account(phone(record), ClientIdentity(), now, now))
                    assert account.id is not None
                    for n, text in enumerate(group):
                        role = Role.PRIMARY if n == 0 else Role.BACKUP
                        await uow.sessions.add_session(Session(cipher.fingerprint(text), account.id, role,
                                                               Origin.IMPORTED, account.identity, now, now,
                                                               string=Secret(text)))  # fmt: skip
                await uow.commit()

    asyncio.run(plant())
    report = json.loads(cli("repair-sessions", "--json").stdout)
    assert report["converted"] == {"gramjs": COUNT} and report["unreadable"] == 0
    again = json.loads(cli("repair-sessions", "--json").stdout)
    assert again["converted"] == {} and again["sessions_seen"] == 0
    clients, _users = exported(tmp_path)
    assert sorted(strings_of(clients)) == sorted(made.strings)  # handed back as they came: GramJS's own text
    telethon, _ = exported(tmp_path, "--session-format", "telethon")
    assert same_as_telethon_read(strings_of(telethon), made.by_key()) == COUNT
