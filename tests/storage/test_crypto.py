"""The key file and the AES-GCM cipher."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tgsessions.adapters.crypto import AesGcmCipher, KeyRing, create_key_file, load_key_file, save_key_file
from tgsessions.domain.errors import ConfigurationError, SecretUnreadable

SECRET = "1BVtsOK8Bu" + "Z" * 300
AAD = b"tgs:session:1:s_abc"


def test_create_key_file_is_owner_only_and_loads_back(tmp_path):
    path = tmp_path / "deep" / "keys.json"
    ring = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key_file(path)
    assert loaded.active == ring.active == "k1"
    assert loaded.keys == ring.keys
    assert loaded.fingerprint_key == ring.fingerprint_key
    document = json.loads(path.read_text())
    assert document["version"] == 1
    assert set(document) == {"version", "active", "keys", "fingerprint_key"}


def test_create_refuses_to_overwrite(tmp_path):
    path = tmp_path / "keys.json"
    first = create_key_file(path)
    with pytest.raises(ConfigurationError, match="already exists"):
        create_key_file(path)
    assert load_key_file(path).keys == first.keys


def test_missing_key_file_is_a_configuration_error_naming_the_path(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigurationError) as caught:
        load_key_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_key_file_readable_by_others_is_refused(tmp_path, mode):
    path = tmp_path / "keys.json"
    create_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(ConfigurationError) as caught:
        load_key_file(path)
    assert str(path) in str(caught.value)
    assert "600" in str(caught.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: "not json at all {",
        lambda d: "[1, 2]",
        lambda d: {**d, "version": 2},
        lambda d: {**d, "active": "k9"},
        lambda d: {**d, "keys": {}},
        lambda d: {**d, "keys": {"k1": "c2hvcnQ="}},
        lambda d: {**d, "keys": {"k1": "!!!not-base64!!!"}},
        lambda d: {**d, "keys": {"bad id with spaces": d["keys"]["k1"]}, "active": "bad id with spaces"},
        lambda d: {k: v for k, v in d.items() if k != "fingerprint_key"},
    ],
    ids=["not-json", "not-object", "version", "active", "no-keys", "short-key", "bad-base64", "bad-id", "no-fp"],
)
def test_malformed_key_file_is_refused_without_echoing_content(tmp_path, mutate):
    path = tmp_path / "keys.json"
    ring = create_key_file(path)
    document = json.loads(path.read_text())
    changed = mutate(document)
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(ConfigurationError) as caught:
        load_key_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "malformed" in message
    assert document["keys"]["k1"] not in message, "the error must not echo key material"
    assert document["fingerprint_key"] not in message, "the error must not echo key material"
    assert ring is not None


def test_round_trip_and_fresh_nonce():
    cipher = AesGcmCipher(KeyRing.generate())
    first, second = cipher.encrypt(SECRET, aad=AAD), cipher.encrypt(SECRET, aad=AAD)
    assert first != second
    assert SECRET.encode() not in first
    assert cipher.decrypt(first, aad=AAD) == cipher.decrypt(second, aad=AAD) == SECRET
    assert cipher.key_id_of(first) == "k1"
    assert first[0] == 1
    assert first[2 : 2 + first[1]] == b"k1"


def test_wrong_aad_tampering_and_garbage_are_unreadable():
    cipher = AesGcmCipher(KeyRing.generate())
    blob = cipher.encrypt(SECRET, aad=AAD)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    for bad_blob, aad in [(blob, b"tgs:session:2:s_abc"), (bytes(tampered), AAD), (b"", AAD), (b"\x07abc", AAD)]:
        with pytest.raises(SecretUnreadable) as caught:
            cipher.decrypt(bad_blob, aad=aad)
        assert SECRET not in str(caught.value), "the error must not carry the plaintext"


def test_unknown_key_id_is_unreadable():
    blob = AesGcmCipher(KeyRing.generate()).encrypt(SECRET, aad=AAD)
    ring = KeyRing.generate()
    ring.active = ring.add_key()
    other = AesGcmCipher(
        KeyRing(active="k1", keys={"k7": ring.keys["k1"], "k1": ring.keys["k2"]}, fingerprint_key=b"x" * 32)
    )
    with pytest.raises(SecretUnreadable):
        other.decrypt(blob, aad=AAD)
    blob_k2 = AesGcmCipher(ring).encrypt(SECRET, aad=AAD)
    with pytest.raises(SecretUnreadable, match="'k2'"):
        AesGcmCipher(KeyRing(active="k1", keys={"k1": ring.keys["k1"]}, fingerprint_key=b"x" * 32)).decrypt(
            blob_k2, aad=AAD
        )


def test_rotation_both_keys_decrypt_and_fingerprints_stay(tmp_path):
    path = tmp_path / "keys.json"
    ring = create_key_file(path)
    before = AesGcmCipher(ring)
    old_blob = before.encrypt(SECRET, aad=AAD)
    new_id = ring.add_key()
    assert new_id == "k2"
    assert ring.active == "k2"
    save_key_file(path, ring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    after = AesGcmCipher(load_key_file(path))
    new_blob = after.encrypt(SECRET, aad=AAD)
    assert after.key_id_of(new_blob) == "k2"
    assert after.key_id_of(old_blob) == "k1"
    assert after.decrypt(old_blob, aad=AAD) == after.decrypt(new_blob, aad=AAD) == SECRET
    assert after.fingerprint(SECRET) == before.fingerprint(SECRET)
    assert ring.add_key(activate=False) == "k3"
    assert ring.active == "k2"


def test_fingerprint_is_keyed_stable_and_not_a_prefix():
    ring = KeyRing.generate()
    cipher = AesGcmCipher(ring)
    fingerprint = cipher.fingerprint(SECRET)
    assert fingerprint == cipher.fingerprint(SECRET)
    assert fingerprint.startswith("s_")
    assert len(fingerprint) == 34
    assert int(fingerprint[2:], 16) >= 0
    assert fingerprint != AesGcmCipher(KeyRing.generate()).fingerprint(SECRET)
    assert fingerprint != cipher.fingerprint(SECRET + "x")
    assert SECRET[:8] not in fingerprint


def test_reprs_show_key_ids_only():
    ring = KeyRing.generate()
    ring.add_key()
    for text in (repr(ring), repr(AesGcmCipher(ring)), str(AesGcmCipher(ring))):
        assert "k1" in text
        assert "k2" in text
        for key in (*ring.keys.values(), ring.fingerprint_key):
            assert key.hex() not in text, "a repr must not show key material"
            assert repr(key) not in text, "a repr must not show key material"
