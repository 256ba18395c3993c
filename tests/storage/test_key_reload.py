"""AesGcmCipher with ``reload``: a ciphertext under a key id it does not hold makes it read the key file again (once
per unknown id, under a lock, at most once per interval); what it learns is kept, a different key file is not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tgsessions.adapters.crypto import AesGcmCipher, KeyRing, load_key_file, save_key_file
from tgsessions.domain.errors import SecretUnreadable

AAD = b"tgs:session:1:s_x"


class Reader:
    """Reads the key file, counting the reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0

    def __call__(self) -> KeyRing:
        self.reads += 1
        return load_key_file(self.path)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "tgsessions.key"
    save_key_file(path, KeyRing.generate())
    return path


def rotated(path: Path) -> tuple[KeyRing, str]:
    """Add a key to the file (as `keys rotate-encryption` does) and return the new ring and key id."""
    ring = load_key_file(path)
    new_id = ring.add_key()
    save_key_file(path, ring)
    return ring, new_id


def server_cipher(path: Path, **options: float | Callable[[], float]) -> tuple[AesGcmCipher, Reader]:
    reader = Reader(path)
    return AesGcmCipher(load_key_file(path), reload=reader, **options), reader  # type: ignore[arg-type]


def test_a_rotated_key_is_loaded_when_first_met(key_file: Path) -> None:
    cipher, reader = server_cipher(key_file)
    old_blob = cipher.encrypt("old secret", aad=AAD)
    ring, new_id = rotated(key_file)
    new_blob = AesGcmCipher(ring).encrypt("new secret", aad=AAD)  # the rotation command re-encrypts a row

    assert cipher.decrypt(new_blob, aad=AAD) == "new secret"
    assert reader.reads == 1
    assert cipher.active_key_id == new_id and cipher.key_ids == ["k1", new_id]
    assert cipher.key_id_of(cipher.encrypt("written after", aad=AAD)) == new_id  # new secrets go to the new key
    assert cipher.decrypt(old_blob, aad=AAD) == "old secret"  # the old key stays
    assert cipher.decrypt(new_blob, aad=AAD) == "new secret"
    assert reader.reads == 1  # known now: no more reads


def test_an_id_the_file_does_not_hold_either_is_tried_once(key_file: Path) -> None:
    ticks = Ticks()
    cipher, reader = server_cipher(key_file, monotonic=ticks)
    stranger = KeyRing(active="k7", keys={"k7": b"\x01" * 32}, fingerprint_key=b"\x02" * 32)
    blob = AesGcmCipher(stranger).encrypt("elsewhere", aad=AAD)
    for _ in range(5):
        ticks.now += 60
        with pytest.raises(SecretUnreadable, match="'k7', which is not in the key file") as caught:
            cipher.decrypt(blob, aad=AAD)
        assert "elsewhere" not in str(caught.value)
    assert reader.reads == 1


def test_reloads_are_rate_limited(key_file: Path) -> None:
    ticks = Ticks()
    cipher, reader = server_cipher(key_file, monotonic=ticks, reload_interval=1.0)
    unknown = AesGcmCipher(KeyRing(active="k8", keys={"k8": b"\x03" * 32}, fingerprint_key=b"\x04" * 32))
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(unknown.encrypt("x", aad=AAD), aad=AAD)
    assert reader.reads == 1

    ring, _new_id = rotated(key_file)
    new_blob = AesGcmCipher(ring).encrypt("new", aad=AAD)
    ticks.now += 0.5
    with pytest.raises(SecretUnreadable):  # too soon after the last read: not read again...
        cipher.decrypt(new_blob, aad=AAD)
    assert reader.reads == 1
    ticks.now += 0.6
    assert cipher.decrypt(new_blob, aad=AAD) == "new"  # ... but not given up on either
    assert reader.reads == 2


def test_a_different_key_file_is_ignored(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    cipher, reader = server_cipher(key_file)
    other = KeyRing.generate()
    other.add_key()
    save_key_file(key_file, other)  # another installation's key file, put in its place
    blob = AesGcmCipher(other).encrypt("theirs", aad=AAD)
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(blob, aad=AAD)
    assert reader.reads == 1 and cipher.key_ids == ["k1"]
    assert "another fingerprint key" in caplog.text
    for key in other.keys.values():
        assert key.hex() not in caplog.text


def test_a_broken_key_file_is_survived(key_file: Path) -> None:
    cipher, reader = server_cipher(key_file)
    ring, _ = rotated(key_file)
    blob = AesGcmCipher(ring).encrypt("new", aad=AAD)
    key_file.write_text("{not json", encoding="ascii")
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(blob, aad=AAD)
    assert cipher.decrypt(cipher.encrypt("still", aad=AAD), aad=AAD) == "still"
    assert reader.reads == 1


def test_without_reload_nothing_is_read(key_file: Path) -> None:
    cipher = AesGcmCipher(load_key_file(key_file))
    ring, _ = rotated(key_file)
    with pytest.raises(SecretUnreadable):
        cipher.decrypt(AesGcmCipher(ring).encrypt("new", aad=AAD), aad=AAD)


def test_threads_meeting_the_new_key_at_once_read_the_file_once(key_file: Path) -> None:
    cipher, reader = server_cipher(key_file)
    ring, _ = rotated(key_file)
    blob = AesGcmCipher(ring).encrypt("new", aad=AAD)
    start = threading.Barrier(16)
    results: list[str] = []

    def read() -> None:
        start.wait()
        results.append(cipher.decrypt(blob, aad=AAD))

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["new"] * 16
    assert reader.reads == 1
