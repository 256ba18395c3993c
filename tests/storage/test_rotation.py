"""Data-key rotation on SQLite and PostgreSQL: the keys wing's use case (service/keys/) through its port
(domain/key_rotation.py: KeyRotationStore, KeyFile), the port in SQL. A few hundred rows of each ciphertext kind, an
interruption in the middle, and every row read back through the repository before, during and after."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.storage.builders import account, session, session_string
from tgsessions.adapters.crypto import AesGcmCipher, KeyRing, load_key_file, save_key_file
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.sql.rotation import CIPHERTEXT_COLUMNS, SqlKeyRotationStore
from tgsessions.adapters.sql.tables import accounts, metadata
from tgsessions.cli import commands_keys
from tgsessions.config import Settings
from tgsessions.domain.clock import SystemClock
from tgsessions.domain.errors import ConcurrentModification, ConfigurationError, SecretUnreadable
from tgsessions.domain.key_rotation import KINDS, BatchDone, CiphertextSwap, RotatingCipher
from tgsessions.domain.model import Role
from tgsessions.service.keys import rotation as key_rotation
from tgsessions.service.keys.reencryption import Reencryption
from tgsessions.service.keys.rotation import ROTATION_LEASE

ACCOUNTS = 240  # each with a 2FA password, a proxy and one live session
PLAIN_ACCOUNTS = 10  # no 2FA, no proxy, one retired session (NULL ciphertext): never counted, never touched
BATCH = 50


class Interrupted(Exception):
    """What the hook raises to stop a run in the middle."""


def phone_of(n: int) -> str:
    return f"7999{n:07d}"


async def seed(db: SqlDatabase, cipher: AesGcmCipher, clock) -> dict[str, list[str]]:
    """Accounts with secrets (one live session each) and plain ones (one retired session each)."""
    strings: dict[str, list[str]] = {}
    async with db.unit_of_work() as uow:
        for n in range(ACCOUNTS + PLAIN_ACCOUNTS):
            phone = phone_of(n)
            secrets = n < ACCOUNTS
            owner = await uow.accounts.add_account(account(phone, clock.now(), with_secrets=secrets))
            role = Role.BACKUP if secrets else Role.RETIRED
            await uow.sessions.add_session(session(cipher, owner.id, f"t{n}", clock.now(), role=role))
            strings[phone] = [session_string(f"t{n}")] if secrets else []
        await uow.commit()
    return strings


async def assert_every_row_decrypts(db: SqlDatabase, strings: dict[str, list[str]]) -> None:
    """Through the normal repository API: every account's 2FA and proxy, every live session string."""
    async with db.unit_of_work() as uow:
        for phone, expected in strings.items():
            stored = await uow.accounts.get_account(phone)
            assert stored is not None
            if expected:
                assert stored.two_fa is not None and stored.two_fa.reveal() == f"2fa-password-{phone}"
                assert stored.proxy is not None and stored.proxy.password is not None
                assert stored.proxy.password.reveal() == f"proxy-pw-{phone}"
            else:
                assert stored.two_fa is None and stored.proxy is None
            live = await uow.sessions.sessions(stored.id)
            assert [s.string.reveal() for s in live if s.string is not None] == expected


def on(db: SqlDatabase, cipher: AesGcmCipher, clock) -> SqlDatabase:
    """The same database (same engine) read through another cipher."""
    return SqlDatabase(db.engine, cipher=cipher, clock=clock)


def rotation(db: SqlDatabase, cipher: RotatingCipher) -> Reencryption:
    """The use case, through the KeyRotationStore port implemented in SQL over the test's database."""
    return Reencryption(SqlKeyRotationStore(db.engine), cipher)


def stop_after(batches: int):
    seen: list[BatchDone] = []

    def hook(done: BatchDone) -> None:
        seen.append(done)
        if len(seen) == batches:
            raise Interrupted

    return hook, seen


async def test_interrupted_rotation_keeps_every_row_readable_and_resumes(sql_database: SqlDatabase, clock) -> None:
    ring = KeyRing.generate()
    old = AesGcmCipher(ring)
    strings = await seed(on(sql_database, old, clock), old, clock)

    # before
    await assert_every_row_decrypts(on(sql_database, old, clock), strings)
    before = await rotation(sql_database, old).usage(batch_size=BATCH)
    assert before.counts == {kind: {"k1": ACCOUNTS} for kind in KINDS}
    assert before.not_on("k1") == 0

    # an interruption after 3 committed batches (all of them sessions: 240 / 50 -> 5 batches for that kind)
    assert ring.add_key(activate=True) == "k2"
    both = AesGcmCipher(ring)
    hook, seen = stop_after(3)
    with pytest.raises(Interrupted):
        await rotation(sql_database, both).reencrypt(batch_size=BATCH, on_batch=hook)
    assert [d.reencrypted for d in seen] == [50, 100, 150]

    # during: both keys in use, every row readable with the ring holding both
    during = await rotation(sql_database, both).usage(batch_size=BATCH)
    assert during.counts == {
        "session": {"k1": ACCOUNTS - 150, "k2": 150},
        "two_fa": {"k1": ACCOUNTS},
        "proxy": {"k1": ACCOUNTS},
    }
    assert during.not_on("k2") == 3 * ACCOUNTS - 150
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)
    # the rotated rows really are under k2: the old ring alone no longer reads them
    with pytest.raises(SecretUnreadable):
        await assert_every_row_decrypts(on(sql_database, old, clock), strings)

    # resumed: only what is left is rewritten
    report = await rotation(sql_database, both).reencrypt(batch_size=BATCH)
    assert report.reencrypted == {"session": ACCOUNTS - 150, "two_fa": ACCOUNTS, "proxy": ACCOUNTS}
    after = await rotation(sql_database, both).usage(batch_size=BATCH)
    assert after.counts == {kind: {"k2": ACCOUNTS} for kind in KINDS}
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)
    only_new = KeyRing(active="k2", keys={"k2": ring.keys["k2"]}, fingerprint_key=ring.fingerprint_key)
    await assert_every_row_decrypts(on(sql_database, AesGcmCipher(only_new), clock), strings)

    # a run with nothing left does nothing
    again = await rotation(sql_database, both).reencrypt(batch_size=BATCH)
    assert again.total == 0


class FailingCipher:
    """Delegates to a real cipher; the n-th encryption fails (a crash in the middle of a batch)."""

    def __init__(self, inner: AesGcmCipher, fail_at: int) -> None:
        self._inner, self._left = inner, fail_at

    @property
    def active_key_id(self) -> str:
        return self._inner.active_key_id

    def encrypt(self, plaintext: str, *, aad: bytes) -> bytes:
        self._left -= 1
        if self._left == 0:
            raise Interrupted
        return self._inner.encrypt(plaintext, aad=aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> str:
        return self._inner.decrypt(blob, aad=aad)

    def fingerprint(self, plaintext: str) -> str:
        return self._inner.fingerprint(plaintext)

    def key_id_of(self, blob: bytes) -> str:
        return self._inner.key_id_of(blob)


async def test_a_crash_inside_a_batch_rolls_that_batch_back(sql_database: SqlDatabase, clock) -> None:
    ring = KeyRing.generate()
    old = AesGcmCipher(ring)
    strings = await seed(on(sql_database, old, clock), old, clock)
    ring.add_key()
    both = AesGcmCipher(ring)
    with pytest.raises(Interrupted):  # the 2nd session batch fails half way
        await rotation(sql_database, FailingCipher(both, BATCH + 25)).reencrypt(batch_size=BATCH)
    during = await rotation(sql_database, both).usage()
    assert during.counts["session"] == {"k1": ACCOUNTS - BATCH, "k2": BATCH}
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)
    await rotation(sql_database, both).reencrypt(batch_size=BATCH)
    assert (await rotation(sql_database, both).usage()).by_key() == {"k2": 3 * ACCOUNTS}
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)


async def test_a_blob_moved_to_another_row_stops_the_batch_and_names_the_row(sql_database: SqlDatabase, clock) -> None:
    ring = KeyRing.generate()
    old = AesGcmCipher(ring)
    await seed(on(sql_database, old, clock), old, clock)
    async with sql_database.engine.begin() as conn:  # the 2FA blob of account 2 copied into account 1
        blob = (await conn.execute(select(accounts.c.two_fa_ct).where(accounts.c.id == 2))).scalar_one()
        await conn.execute(update(accounts).where(accounts.c.id == 1).values(two_fa_ct=blob))
    ring.add_key()
    with pytest.raises(SecretUnreadable) as caught:
        await rotation(sql_database, AesGcmCipher(ring)).reencrypt(batch_size=BATCH)
    assert caught.value.message.startswith(f"the 2FA password of account {phone_of(0)} (key k1)")
    assert "2fa-password" not in str(caught.value)
    usage = await rotation(sql_database, AesGcmCipher(ring)).usage()
    assert usage.counts["session"] == {"k2": ACCOUNTS}
    assert usage.counts["two_fa"] == {"k1": ACCOUNTS}  # the failing batch (the first of its kind) wrote nothing


def settings_for(db: SqlDatabase, key_file: Path, tmp_path: Path) -> Settings:
    url = db.engine.url.render_as_string(hide_password=False)
    return Settings(database_url=url, key_file=key_file, data_dir=tmp_path / "data")


async def test_the_resume_rule_adds_one_key_per_rotation(
    sql_database: SqlDatabase, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's orchestration on both backends: a key is added only when nothing is left on older keys."""
    ring = KeyRing.generate()
    key_file = tmp_path / "secret" / "tgsessions.key"
    key_file.parent.mkdir()
    save_key_file(key_file, ring)
    old = AesGcmCipher(ring)
    strings = await seed(on(sql_database, old, clock), old, clock)
    settings = settings_for(sql_database, key_file, tmp_path)

    class InterruptedRotation(Reencryption):
        async def reencrypt(self, *, batch_size=500, on_batch=None):  # type: ignore[no-untyped-def]
            async def hook(done: BatchDone) -> None:
                await on_batch(done)
                if done.kind == "two_fa":
                    raise Interrupted

            return await super().reencrypt(batch_size=batch_size, on_batch=hook)

    monkeypatch.setattr(key_rotation, "Reencryption", InterruptedRotation)
    with pytest.raises(Interrupted):
        await commands_keys.rotate(settings, batch_size=BATCH, progress=None)
    monkeypatch.undo()
    interrupted_ring = load_key_file(key_file)
    assert interrupted_ring.active == "k2" and sorted(interrupted_ring.keys) == ["k1", "k2"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    both = AesGcmCipher(interrupted_ring)
    status, _ = await commands_keys.key_status(settings, batch_size=BATCH)
    assert status.counts["session"] == {"k2": ACCOUNTS}
    assert status.counts["two_fa"] == {"k1": ACCOUNTS - BATCH, "k2": BATCH}
    assert status.counts["proxy"] == {"k1": ACCOUNTS}
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)

    # resumed: no new key, only the rest rewritten
    resumed = await commands_keys.rotate(settings, batch_size=BATCH, progress=None)
    assert resumed.added_key is None and resumed.active_key == "k2"
    assert resumed.report.reencrypted == {"session": 0, "two_fa": ACCOUNTS - BATCH, "proxy": ACCOUNTS}
    assert resumed.after.by_key() == {"k2": 3 * ACCOUNTS}
    assert sorted(load_key_file(key_file).keys) == ["k1", "k2"]
    await assert_every_row_decrypts(on(sql_database, both, clock), strings)

    # finished, so the next run is a new rotation: exactly one more key, everything rewritten again
    second = await commands_keys.rotate(settings, batch_size=BATCH, progress=None)
    assert second.added_key == "k3" and second.report.reencrypted == dict.fromkeys(KINDS, ACCOUNTS)
    final_ring = load_key_file(key_file)
    assert final_ring.active == "k3" and sorted(final_ring.keys) == ["k1", "k2", "k3"]
    assert second.after.by_key() == {"k3": 3 * ACCOUNTS}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    await assert_every_row_decrypts(on(sql_database, AesGcmCipher(final_ring), clock), strings)

    # old keys can go now, and the data stays readable with the one key left
    dropped, _ = await commands_keys.drop_old_keys(settings, batch_size=BATCH)
    assert dropped == ["k1", "k2"] and sorted(load_key_file(key_file).keys) == ["k3"]
    await assert_every_row_decrypts(on(sql_database, AesGcmCipher(load_key_file(key_file)), clock), strings)


async def test_refusals_change_nothing(sql_database: SqlDatabase, clock, tmp_path: Path) -> None:
    ring = KeyRing.generate()
    key_file = tmp_path / "tgsessions.key"
    save_key_file(key_file, ring)
    old = AesGcmCipher(ring)
    await seed(on(sql_database, old, clock), old, clock)
    settings = settings_for(sql_database, key_file, tmp_path)

    # old keys cannot be dropped while rows use them
    ring.add_key()
    save_key_file(key_file, ring)
    with pytest.raises(ConfigurationError, match=f"{3 * ACCOUNTS} stored secrets still use older keys"):
        await commands_keys.drop_old_keys(settings, batch_size=BATCH)
    assert sorted(load_key_file(key_file).keys) == ["k1", "k2"]

    # a key file without the key the rows use: refused before a key is added or a row written
    stranger = KeyRing.generate()
    stranger.keys = {"k9": stranger.keys["k1"]}
    stranger.active = "k9"
    save_key_file(key_file, stranger)
    with pytest.raises(ConfigurationError, match=r"under key ids k1 that the key file .* does not hold") as caught:
        await commands_keys.rotate(settings, batch_size=BATCH, progress=None)
    assert str(key_file) in caught.value.message
    assert sorted(load_key_file(key_file).keys) == ["k9"]
    assert (await rotation(sql_database, old).usage()).by_key() == {"k1": 3 * ACCOUNTS}

    # one rotation at a time: another holder of the lease makes the command refuse
    save_key_file(key_file, ring)
    other = await SqlDatabase.open(settings.effective_database_url(), cipher=old, clock=SystemClock())
    try:
        lease = await other.leases.try_acquire(ROTATION_LEASE, "someone-else", timedelta(minutes=1))
        assert lease is not None
        with pytest.raises(ConcurrentModification, match="another key rotation is running"):
            await commands_keys.rotate(settings, batch_size=BATCH, progress=None)
        assert sorted(load_key_file(key_file).keys) == ["k1", "k2"]
        await other.leases.release(lease)
    finally:
        await other.aclose()
    assert (await commands_keys.rotate(settings, batch_size=BATCH, progress=None)).added_key is None


def test_every_ciphertext_column_is_rotated() -> None:
    """A new ``*_ct`` column must be added to CIPHERTEXT_COLUMNS (with its AAD rule), or rotation would miss it."""
    stored = {f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.c if c.name.endswith("_ct")}
    assert stored == {f"{spec.table.name}.{spec.column.name}" for spec in CIPHERTEXT_COLUMNS}


async def test_the_store_pages_by_row_id_and_swaps_only_rows_still_holding_the_old_blob(
    sql_database: SqlDatabase, clock
) -> None:
    """The KeyRotationStore port's contract: pages in id order after a cursor (rows without a ciphertext skipped),
    AAD and row names for re-encryption, and a compare-and-swap that leaves a row rewritten meanwhile alone."""
    ring = KeyRing.generate()
    cipher = AesGcmCipher(ring)
    await seed(on(sql_database, cipher, clock), cipher, clock)
    store = SqlKeyRotationStore(sql_database.engine)
    for kind in KINDS:
        first = await store.ciphertexts(kind, after_id=0, limit=BATCH)
        assert len(first) == BATCH and [r.row_id for r in first] == sorted(r.row_id for r in first)
        rest = await store.ciphertexts(kind, after_id=first[-1].row_id, limit=10 * ACCOUNTS)
        assert len(first) + len(rest) == ACCOUNTS and rest[0].row_id > first[-1].row_id
    bound = await store.bound_ciphertexts("two_fa", after_id=0, limit=2)
    assert [b.row for b in bound] == [f"the 2FA password of account {phone_of(n)}" for n in range(2)]
    assert cipher.decrypt(bound[0].blob, aad=bound[0].aad) == f"2fa-password-{phone_of(0)}"

    ring.add_key()
    newer = AesGcmCipher(ring)
    fresh = [newer.encrypt(f"2fa-password-{phone_of(n)}", aad=b.aad) for n, b in enumerate(bound)]
    meanwhile = newer.encrypt("written-by-the-service", aad=bound[1].aad)
    async with sql_database.engine.begin() as conn:  # the service rewrote the second row after it was read
        await conn.execute(update(accounts).where(accounts.c.id == bound[1].row_id).values(two_fa_ct=meanwhile))
    await store.swap("two_fa", [CiphertextSwap(b.row_id, b.blob, new) for b, new in zip(bound, fresh, strict=True)])
    after = await store.bound_ciphertexts("two_fa", after_id=0, limit=2)
    assert [a.blob for a in after] == [fresh[0], meanwhile]
