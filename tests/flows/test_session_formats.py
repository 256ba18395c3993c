"""Session strings of other libraries in the flows: GramJS strings made by real GramJS come in, are stored once per
auth key, work at fetch and come back out in the caller's layout; what we cannot read is quarantined, never wiped;
rows stored verbatim by 0.1 are repaired."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from telethon.sessions import StringSession

from tests.flows.conftest import PHONE, MakeFactory, no_sleep
from tests.interop.gramjs import Spec, load_gramjs, make_gramjs
from tests.interop.pyrogram_lib import load_pyrogram
from tests.support.db_fixtures import ALL_BACKENDS, on_backends
from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.errors import FormatUnavailable, UnknownSessionFormat
from tgsessions.domain.model import Origin, Role, Session
from tgsessions.domain.ports import Cipher, Database
from tgsessions.domain.secret import Secret
from tgsessions.domain.session_codec import SessionFormat, parse
from tgsessions.service.factory import SessionFactory
from tgsessions.service.session_strings import session_id_of
from tgsessions.testing.clock import FakeClock


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_gramjs(string: Secret) -> str:
    """The same authorization written by real GramJS."""
    telethon = StringSession(string.reveal())
    [text] = make_gramjs([Spec(telethon.dc_id, telethon.server_address, telethon.port, telethon.auth_key.key)])
    return text


async def stored_sessions(database: Database, phone: str) -> list[Session]:
    async with database.unit_of_work() as uow:
        account = await uow.accounts.get_account(phone)
        assert account is not None and account.id is not None
        return await uow.sessions.sessions(account.id, include_retired=True)


async def test_a_gramjs_string_is_stored_canonically_and_fetched_in_any_layout(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database
) -> None:
    world.add_account(PHONE)
    primary = world.create_session(PHONE)
    gramjs = as_gramjs(primary)
    factory = make_factory()
    await factory.add_account(PHONE, primary=gramjs, backups=[primary.reveal()])  # one key, two layouts
    [stored] = await stored_sessions(database, PHONE)
    assert stored.source_format is SessionFormat.GRAMJS and stored.string == primary  # canonical: Telethon text
    result = await factory.fetch_one(PHONE)
    assert result.how == "validated" and result.session == primary
    assert result.rendered(SessionFormat.GRAMJS).reveal() == gramjs  # GramJS's own text, byte for byte
    [loaded] = load_gramjs([result.rendered(SessionFormat.GRAMJS).reveal()])
    assert not isinstance(loaded, str)
    assert digest(loaded.auth_key) == digest(StringSession(primary.reveal()).auth_key.key)
    pyro = await load_pyrogram(result.rendered(SessionFormat.PYROGRAM).reveal())
    assert pyro.user_id == result.user_id and pyro.dc_id == StringSession(primary.reveal()).dc_id
    assert digest(pyro.auth_key) == digest(loaded.auth_key)


async def test_pyrogram_output_waits_for_the_user_id(make_factory: MakeFactory, world: SimulatedTelegram) -> None:
    world.add_account(PHONE)
    primary = world.create_session(PHONE)
    factory = make_factory()
    await factory.add_account(PHONE, primary=primary)
    result = await factory.fetch_one(PHONE)
    unknown = type(result)(**{**{f: getattr(result, f) for f in result.__dataclass_fields__}, "user_id": None})
    with pytest.raises(FormatUnavailable, match="user id"):
        unknown.rendered(SessionFormat.PYROGRAM)


async def test_junk_is_refused_at_the_door_naming_the_layouts(make_factory: MakeFactory) -> None:
    factory = make_factory()
    junk = "1" + "Zm9v" * 80
    with pytest.raises(UnknownSessionFormat) as info:
        await factory.add_account(PHONE, primary=junk)
    assert "telethon, gramjs, pyrogram" in str(info.value) and junk not in str(info.value)


async def _plant(database: Database, cipher: Cipher, clock: FakeClock, text: str, role: Role) -> None:
    """A row as tgsessions 0.1 wrote it: the text verbatim, named by its text's fingerprint, no layout."""
    async with database.unit_of_work() as uow:
        account = await uow.accounts.get_account(PHONE)
        assert account is not None and account.id is not None
        now = clock.now() - timedelta(days=3)
        await uow.sessions.add_session(
            Session(cipher.fingerprint(text), account.id, role, Origin.IMPORTED, account.identity, now, now,
                    string=Secret(text))
        )  # fmt: skip
        await uow.commit()


@on_backends(*ALL_BACKENDS)  # a quarantined row keeps its ciphertext on SQL (a retired one does not)
async def test_an_unreadable_string_is_quarantined_and_kept_through_fetch_cleanup_and_maintenance(
    world: SimulatedTelegram, database: Database, cipher: Cipher, clock: FakeClock, cache: MemoryVerdictCache
) -> None:
    world.add_account(PHONE)
    metrics = PrometheusMetrics(cache)
    factory = SessionFactory(db=database, gateway=SimulatedTelegramGateway(world), cache=cache, cipher=cipher,
                             clock=clock, sleep=no_sleep, metrics=metrics)  # fmt: skip
    await factory.add_account(PHONE, keeper=world.create_session(PHONE, age=timedelta(days=30)))
    unreadable = "1" + "A" * 120  # not a session in any layout
    await _plant(database, cipher, clock, unreadable, Role.PRIMARY)
    await _plant(database, cipher, clock, world.create_session(PHONE).reveal(), Role.BACKUP)
    result = await factory.fetch_one(PHONE)
    assert result.how == "promoted"
    await factory.cleanup_sessions(PHONE, 0)
    report = await factory.run_maintenance(actor="test")
    status = await factory.session_status(PHONE)
    await factory.aclose()
    [kept] = [s for s in await stored_sessions(database, PHONE) if s.session_id == cipher.fingerprint(unreadable)]
    assert kept.role is Role.QUARANTINED and kept.string == Secret(unreadable)
    assert "quarantined" in [e.action.value for e in (await factory.history(PHONE)).events]
    assert report.quarantined == 1 and status.quarantined == 1
    exposition = (await metrics.exposition())[0].decode()
    assert 'tgs_quarantines_total{reason="malformed_session"} 1.0' in exposition
    assert "tgs_sessions_in_quarantine 1.0" in exposition
    assert unreadable not in exposition


@on_backends(*ALL_BACKENDS)  # rows planted as 0.1 wrote them, repaired in place (a new session id) on SQL
async def test_rows_stored_verbatim_by_0_1_work_and_are_repaired_once(
    make_factory: MakeFactory, world: SimulatedTelegram, database: Database, cipher: Cipher, clock: FakeClock
) -> None:
    world.add_account(PHONE)
    factory = make_factory()
    await factory.add_account(PHONE, keeper=world.create_session(PHONE, age=timedelta(days=30)))
    live = world.create_session(PHONE)
    legacy = as_gramjs(live)
    await _plant(database, cipher, clock, legacy, Role.PRIMARY)
    result = await factory.fetch_one(PHONE)  # read in any layout before the repair: DC 2's trap does not bite
    assert result.how == "validated"
    report = await factory.repair_sessions(actor="test")
    assert report.converted == {"gramjs": 1} and report.unreadable == 0
    [primary] = [s for s in await stored_sessions(database, PHONE) if s.role is Role.PRIMARY]
    assert primary.string == live and primary.source_format is SessionFormat.GRAMJS
    assert primary.session_id == session_id_of(cipher, live) != cipher.fingerprint(legacy)
    again = await factory.repair_sessions(actor="test")
    assert again.converted == {} and again.sessions_seen == 0
    assert (await factory.fetch_one(PHONE)).session == live


def test_telethon_misreads_real_gramjs_for_dc_2_and_the_codec_does_not() -> None:
    key = bytes(range(256))
    [text] = make_gramjs([Spec(2, "149.154.167.51", 443, key)])
    assert StringSession(text).server_address != "149.154.167.51"  # the trap: loads without error, wrong address
    parsed = parse(text)
    assert parsed.format is SessionFormat.GRAMJS and parsed.data.address == "149.154.167.51"
