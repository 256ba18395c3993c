"""The interop harness itself, library against library: what GramJS makes GramJS loads, what Pyrogram makes Pyrogram
loads. No string here comes from our own codec. Keys and strings are secrets: failures name fields or hashes only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop import gramjs
from tests.interop.gramjs import Loaded, Spec, load_gramjs, make_gramjs
from tests.interop.pyrogram_lib import PyroLoaded, load_pyrogram, make_pyrogram, make_pyrogram_v1

PRODUCTION_DCS = {
    1: "149.154.175.53",
    2: "149.154.167.51",
    3: "149.154.175.100",
    4: "149.154.167.91",
    5: "91.108.56.130",
}
IPV6_DC2 = "2001:67c:4e8:f002::a"
TEST_DC2 = "149.154.167.40"


def digest(value: bytes | str) -> str:
    """What a failure may show of a key or a session string."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:16]


def key() -> bytes:
    return os.urandom(256)


@dataclass(frozen=True)
class GramCase:
    spec: Spec
    session: str
    loaded: Loaded | str


GRAMJS_SPECS: dict[str, tuple[int, str, int]] = {
    **{f"dc{dc}-production": (dc, address, 443) for dc, address in PRODUCTION_DCS.items()},
    "dc2-ipv6": (2, IPV6_DC2, 443),
    "dc2-test-dc": (2, TEST_DC2, 443),
    "port-80": (2, PRODUCTION_DCS[2], 80),
    "port-443": (4, PRODUCTION_DCS[4], 443),
    "port-5222": (1, PRODUCTION_DCS[1], 5222),
    "ipv6-port-5222": (5, IPV6_DC2, 5222),
    "test-dc-port-80": (2, TEST_DC2, 80),
}


@pytest.fixture(scope="module")
def gram_cases() -> dict[str, GramCase]:
    """Every GramJS case made in one node process and loaded back in another."""
    specs = {name: Spec(dc, address, port, key()) for name, (dc, address, port) in GRAMJS_SPECS.items()}
    sessions = make_gramjs(list(specs.values()))
    loaded = load_gramjs(sessions)
    return {
        name: GramCase(spec, session, back)
        for (name, spec), session, back in zip(specs.items(), sessions, loaded, strict=True)
    }


def test_pinned_versions() -> None:
    import pyrogram

    gramjs.ensure_installed()
    package = json.loads((gramjs.node_dir() / "node_modules" / "telegram" / "package.json").read_text())
    assert package["version"] == "2.26.22"
    node = shutil.which("node")
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    assert version.startswith("v20."), version
    assert pyrogram.__version__ == "2.0.106"


@pytest.mark.parametrize("name", list(GRAMJS_SPECS))
def test_gramjs_make_then_load(gram_cases: dict[str, GramCase], name: str) -> None:
    case = gram_cases[name]
    assert case.session.startswith("1"), "GramJS strings start with its version, 1"
    assert not isinstance(case.loaded, str), f"GramJS could not load its own string: {case.loaded}"
    assert case.loaded.dc_id == case.spec.dc_id
    assert case.loaded.address == case.spec.address
    assert case.loaded.port == case.spec.port
    assert digest(case.loaded.auth_key) == digest(case.spec.auth_key), "auth key mismatch"


def test_gramjs_writes_the_address_as_text_with_a_16_bit_length(gram_cases: dict[str, GramCase]) -> None:
    """GramJS's layout, read off its own output: dc u8, address length i16 BE, address UTF-8 text (IPv6 too),
    port i16 BE, then the key, all standard base64 after the leading "1"."""
    for name, case in gram_cases.items():
        raw = base64.b64decode(case.session[1:], validate=True)
        address = case.spec.address.encode()
        head = bytes([case.spec.dc_id]) + len(address).to_bytes(2, "big") + address + case.spec.port.to_bytes(2, "big")
        assert raw[: len(head)] == head, f"{name}: unexpected header"
        assert digest(raw[len(head) :]) == digest(case.spec.auth_key), f"{name}: key is not the tail"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("x", id="no-version"),
        pytest.param("2" + base64.b64encode(b"\x02\x00\x01a\x01\xbb" + b"k" * 256).decode(), id="wrong-version"),
        pytest.param("1" + base64.b64encode(b"\x02\x00").decode(), id="truncated-header"),
        pytest.param("1" + base64.b64encode(b"\x02\x00\x40" + b"a" * 10).decode(), id="address-past-end"),
    ],
)
def test_gramjs_load_of_a_malformed_string_is_an_error(text: str) -> None:
    [answer] = load_gramjs([text])
    assert isinstance(answer, str), "GramJS loaded a malformed string"
    assert answer
    if text:
        assert text not in answer, "the error echoes the input"


def test_gramjs_error_never_holds_the_bytes_it_read() -> None:
    """GramJS's BinaryReader puts what it read into its own message; the script keeps only the counts."""
    secret = b"SECRET-ADDRESS-BYTES"
    text = "1" + base64.b64encode(b"\x02" + len(secret).to_bytes(2, "big") + secret).decode()
    [answer] = load_gramjs([text])
    assert isinstance(answer, str)
    assert "No more data left to read" in answer
    assert "SECRET" not in answer, "the error holds bytes of the string"


def test_gramjs_answers_in_order_when_errors_are_mixed_in() -> None:
    specs = [Spec(dc, address, 443, key()) for dc, address in PRODUCTION_DCS.items()]
    sessions = make_gramjs(specs)
    mixed = [s for pair in zip(sessions, ["x"] * len(sessions), strict=True) for s in pair]
    answers = load_gramjs(mixed)
    assert len(answers) == 2 * len(specs)
    for index, spec in enumerate(specs):
        good, bad = answers[2 * index], answers[2 * index + 1]
        assert isinstance(good, Loaded), f"#{index} did not load"
        assert good.dc_id == spec.dc_id
        assert digest(good.auth_key) == digest(spec.auth_key), f"#{index}: auth key mismatch"
        assert isinstance(bad, str)


def test_gramjs_cannot_save_a_port_above_32767() -> None:
    """GramJS writes the port with writeInt16BE: a port above 32767 throws, and make_gramjs says which spec."""
    secret = key()
    with pytest.raises(RuntimeError, match=r"spec #1: .*out of range") as caught:
        make_gramjs([Spec(2, PRODUCTION_DCS[2], 443, key()), Spec(2, PRODUCTION_DCS[2], 40000, secret)])
    assert secret.hex() not in str(caught.value)


def test_gramjs_serves_1000_makes_in_one_process() -> None:
    specs = [Spec(1 + i % 5, PRODUCTION_DCS[1 + i % 5], 443, key()) for i in range(1000)]
    sessions = make_gramjs(specs)
    assert len(sessions) == 1000
    assert len(set(sessions)) == 1000
    loaded = load_gramjs(sessions)
    matching = [
        isinstance(back, Loaded) and back.auth_key == spec.auth_key for back, spec in zip(loaded, specs, strict=True)
    ]
    assert matching.count(True) == 1000


def test_gramjs_empty_lists_start_no_process() -> None:
    assert make_gramjs([]) == []
    assert load_gramjs([]) == []


def test_ensure_installed_says_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gramjs, "node_dir", lambda: tmp_path)
    with pytest.raises(RuntimeError, match=r"npm ci --prefix tests/interop/node"):
        gramjs.ensure_installed()


def test_reprs_hold_no_key() -> None:
    secret = key()
    loaded = PyroLoaded(dc_id=2, test_mode=False, auth_key=secret, user_id=1, is_bot=False, api_id=None)
    for value in (Spec(2, "a", 443, secret), Loaded(2, "a", 443, secret), loaded):
        assert "auth_key" not in repr(value)
        assert secret.hex() not in repr(value)


# Pyrogram


PYRO_LENGTHS = {"v2": 362, "v1-32": 351, "v1-64": 356}


async def make_pyro(layout: str, dc_id: int, auth_key: bytes, user_id: int, test_mode: bool, is_bot: bool) -> str:
    if layout == "v2":
        return await make_pyrogram(dc_id, auth_key, user_id, test_mode=test_mode, api_id=987654, is_bot=is_bot)
    return await make_pyrogram_v1(
        dc_id, auth_key, user_id, test_mode=test_mode, bits64=layout == "v1-64", is_bot=is_bot
    )


@pytest.mark.parametrize("layout", list(PYRO_LENGTHS))
@pytest.mark.parametrize("test_mode", [False, True], ids=["production", "test-mode"])
@pytest.mark.parametrize("is_bot", [False, True], ids=["user", "bot"])
async def test_pyrogram_make_then_load(layout: str, test_mode: bool, is_bot: bool) -> None:
    user_id = 7_000_000_123 if layout != "v1-32" else 4_000_000_123
    for dc_id in PRODUCTION_DCS:
        secret = key()
        text = await make_pyro(layout, dc_id, secret, user_id, test_mode, is_bot)
        assert len(text) == PYRO_LENGTHS[layout]
        assert "=" not in text, "Pyrogram strips the padding"
        loaded = await load_pyrogram(text)
        assert loaded.dc_id == dc_id
        assert loaded.test_mode is test_mode
        assert digest(loaded.auth_key) == digest(secret), "auth key mismatch"
        assert loaded.user_id == user_id
        assert loaded.is_bot is is_bot
        assert loaded.api_id == (987654 if layout == "v2" else None)


async def test_pyrogram_v2_layout_is_its_struct() -> None:
    secret = key()
    text = await make_pyrogram(3, secret, 123456789, test_mode=True, api_id=42, is_bot=True)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert len(raw) == 271
    assert raw[:6] == b"\x03" + (42).to_bytes(4, "big") + b"\x01"
    assert digest(raw[6:262]) == digest(secret), "auth key is not at bytes 6..262"
    assert raw[262:] == (123456789).to_bytes(8, "big") + b"\x01"


async def test_pyrogram_rejects_other_lengths() -> None:
    text = await make_pyrogram(2, key(), 1)
    with pytest.raises(struct.error, match="unpack requires a buffer of 271 bytes"):
        await load_pyrogram(text[:-4])


async def test_pyrogram_v1_32_bit_rejects_a_64_bit_user_id() -> None:
    with pytest.raises(struct.error, match="format requires"):
        await make_pyrogram_v1(2, key(), 2**32)


def test_gramjs_misreads_its_own_string_for_a_three_byte_address() -> None:
    """A fact of GramJS 2.26.22, pinned so codec tests know it: its loader takes any body of exactly 352 base64
    characters for Telethon's layout (dc, 4-byte IPv4, port, key). Its own string for a 1-3 byte address ("::1") is
    that long, so GramJS reads it back wrong."""
    secret = key()
    [text] = make_gramjs([Spec(2, "::1", 443, secret)])
    assert len(text) == 1 + 352
    [back] = load_gramjs([text])
    assert isinstance(back, Loaded)
    assert back.address == "0.3.58.58"
    assert back.port == int.from_bytes(b"1\x01", "big")
    assert len(back.auth_key) == 257
