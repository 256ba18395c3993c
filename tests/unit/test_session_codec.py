"""Property tests of the session codec: every layout round-trips, detection is unambiguous, refusals hold no input.

Keys are secrets: failures show sha256 digests, never the bytes or the text."""

from __future__ import annotations

import base64
import hashlib
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tgsessions.domain.errors import FormatUnavailable, InvalidInput, UnknownSessionFormat
from tgsessions.domain.session_codec import (
    PRODUCTION_DCS,
    STRING_FORMATS,
    TEST_DCS,
    SessionData,
    SessionFormat,
    canonical,
    parse,
    render,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TELEGRAM_IPV6 = [
    "2001:b28:f23d:f001::a",
    "2001:67c:4e8:f002::a",
    "2001:b28:f23d:f003::a",
    "2001:67c:4e8:f004::a",
    "2001:b28:f23f:f005::a",
    "2001:67c:4e8:f002::e",
]
PORTS = [80, 443, 5222]


def digest(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:16]


keys = st.binary(min_size=256, max_size=256).filter(any)
ports = st.sampled_from(PORTS)
user_ids = st.integers(min_value=1, max_value=2**63 - 1)
api_ids = st.none() | st.integers(min_value=1, max_value=2**31 - 1)


@st.composite
def dc_choice(draw: st.DrawFn) -> tuple[int, str, bool]:
    """A DC id, its table address and whether it is a test DC: production 1..5 and test 1..3."""
    test_mode = draw(st.booleans())
    table = TEST_DCS if test_mode else PRODUCTION_DCS
    dc_id = draw(st.sampled_from(sorted(table)))
    return dc_id, table[dc_id], test_mode


global_ipv4 = st.ip_addresses(v=4).filter(lambda ip: ip.is_global).map(str)
global_ipv6 = st.ip_addresses(v=6).filter(lambda ip: ip.is_global).map(lambda ip: ip.compressed)


@st.composite
def ip_sessions(draw: st.DrawFn) -> SessionData:
    """A session with an IP address (what both Telethon and GramJS strings hold)."""
    dc_id, table_address, test_mode = draw(dc_choice())
    address = draw(
        st.sampled_from([table_address, *TELEGRAM_IPV6]) | (global_ipv4 if not test_mode else st.just(table_address))
    )
    if address not in TEST_DCS.values():
        test_mode = False
    return SessionData(dc_id, address, draw(ports), draw(keys), test_mode=test_mode)


def assert_same(back: SessionData, data: SessionData, *, address: str, port: int) -> None:
    assert back.dc_id == data.dc_id
    assert back.address == address
    assert back.port == port
    assert digest(back.auth_key) == digest(data.auth_key), "auth key mismatch"
    assert back.test_mode is data.test_mode


# -- round trips ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [SessionFormat.TELETHON, SessionFormat.GRAMJS], ids=str)
@SETTINGS
@given(data=ip_sessions())
def test_ip_layouts_round_trip(fmt: SessionFormat, data: SessionData) -> None:
    text = render(data, fmt).reveal()
    parsed = parse(text)
    assert parsed.format is fmt
    assert_same(parsed.data, data, address=data.address, port=data.port)
    assert parse(text, fmt).data == parsed.data


@SETTINGS
@given(data=ip_sessions())
def test_canonical_is_the_telethon_text(data: SessionData) -> None:
    text = canonical(data).reveal()
    assert digest(text) == digest(render(data, SessionFormat.TELETHON).reveal())
    assert parse(text).format is SessionFormat.TELETHON


@SETTINGS
@given(
    dc=dc_choice(),
    address=st.sampled_from([*PRODUCTION_DCS.values(), *TELEGRAM_IPV6]),
    port=ports,
    key=keys,
    user_id=user_ids,
    api_id=api_ids,
)
def test_pyrogram_round_trips_with_the_dc_table_address(
    dc: tuple[int, str, bool], address: str, port: int, key: bytes, user_id: int, api_id: int | None
) -> None:
    dc_id, table_address, test_mode = dc
    data = SessionData(dc_id, address, port, key, user_id=user_id, test_mode=test_mode, api_id=api_id)
    text = render(data, SessionFormat.PYROGRAM).reveal()
    parsed = parse(text)
    assert parsed.format is SessionFormat.PYROGRAM
    assert_same(parsed.data, data, address=table_address, port=443)
    assert parsed.data.user_id == user_id
    assert parsed.data.api_id == api_id


@pytest.mark.parametrize("dc_id", sorted(PRODUCTION_DCS))
@pytest.mark.parametrize("fmt", list(STRING_FORMATS), ids=str)
def test_every_production_dc_round_trips(fmt: SessionFormat, dc_id: int) -> None:
    for port in PORTS:
        data = SessionData(dc_id, PRODUCTION_DCS[dc_id], port, bytes(range(256)), user_id=777)
        parsed = parse(render(data, fmt).reveal())
        assert parsed.format is fmt
        assert_same(
            parsed.data, data, address=PRODUCTION_DCS[dc_id], port=443 if fmt is SessionFormat.PYROGRAM else port
        )


@pytest.mark.parametrize("dc_id", sorted(TEST_DCS))
@pytest.mark.parametrize("fmt", list(STRING_FORMATS), ids=str)
def test_every_test_dc_round_trips_in_test_mode(fmt: SessionFormat, dc_id: int) -> None:
    for port in PORTS:
        data = SessionData(dc_id, TEST_DCS[dc_id], port, bytes(range(256)), user_id=777, test_mode=True)
        parsed = parse(render(data, fmt).reveal())
        assert parsed.format is fmt
        assert parsed.data.test_mode is True
        assert_same(parsed.data, data, address=TEST_DCS[dc_id], port=443 if fmt is SessionFormat.PYROGRAM else port)


@pytest.mark.parametrize("address", TELEGRAM_IPV6)
@pytest.mark.parametrize("fmt", [SessionFormat.TELETHON, SessionFormat.GRAMJS], ids=str)
def test_ipv6_addresses_round_trip(fmt: SessionFormat, address: str) -> None:
    for port in PORTS:
        data = SessionData(2, address, port, bytes(range(256)))
        parsed = parse(render(data, fmt).reveal())
        assert parsed.format is fmt
        assert_same(parsed.data, data, address=ipaddress.ip_address(address).compressed, port=port)


# -- detection and refusals ----------------------------------------------------------------------------------------


def check_unambiguous(text: str) -> None:
    """``text`` parses as exactly one layout (and no other layout accepts it) or is refused without echoing it."""
    try:
        parsed = parse(text)
    except UnknownSessionFormat as exc:
        message = str(exc)
        assert text not in message, "the refusal echoes the input"
        assert text.strip() not in message, "the refusal echoes the input"
        return
    for other in STRING_FORMATS:
        if other is parsed.format:
            assert parse(text, other).data == parsed.data
            continue
        with pytest.raises(UnknownSessionFormat) as caught:
            parse(text, other)
        assert text not in str(caught.value), "the refusal echoes the input"


@SETTINGS
@given(text=st.text(min_size=16, max_size=600))
def test_random_text_is_never_ambiguous(text: str) -> None:
    check_unambiguous(text)


@SETTINGS
@given(text=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=", min_size=16))
def test_random_base64ish_text_is_never_ambiguous(text: str) -> None:
    check_unambiguous(text)
    check_unambiguous("1" + text)


# Lengths where layouts live: Telethon v4/v6 (263/275), Pyrogram 1.x/2.x (263/267/271), GramJS 261 + address length.
INTERESTING_LENGTHS = [263, 267, 271, 275, 276, 281, 262, 264]


@SETTINGS
@given(
    raw=st.one_of(
        st.binary(min_size=12, max_size=400),
        st.sampled_from(INTERESTING_LENGTHS).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    ),
    urlsafe=st.booleans(),
    prefix=st.sampled_from(["", "1"]),
    padded=st.booleans(),
)
def test_random_bytes_base64_encoded_are_never_ambiguous(raw: bytes, urlsafe: bool, prefix: str, padded: bool) -> None:
    body = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode("ascii")
    check_unambiguous(prefix + (body if padded else body.rstrip("=")))


@SETTINGS
@given(data=ip_sessions(), user_id=user_ids)
def test_rendered_texts_fit_only_their_own_layout(data: SessionData, user_id: int) -> None:
    for fmt in STRING_FORMATS:
        text = render(data.with_user(user_id), fmt).reveal()
        check_unambiguous(text)
        assert parse(text).format is fmt


def test_a_gramjs_dc2_string_is_gramjs_and_not_telethon() -> None:
    """A GramJS string for DC 2's 14-character address is exactly as long as a Telethon IPv6 string."""
    data = SessionData(2, "149.154.167.51", 443, bytes(range(256)))
    text = render(data, SessionFormat.GRAMJS).reveal()
    assert len(text) == len(
        render(SessionData(2, TELEGRAM_IPV6[1], 443, data.auth_key), SessionFormat.TELETHON).reveal()
    )
    parsed = parse(text)
    assert parsed.format is SessionFormat.GRAMJS
    assert parsed.data.address == "149.154.167.51"
    assert parsed.data.port == 443
    with pytest.raises(UnknownSessionFormat) as caught:
        parse(text, SessionFormat.TELETHON)
    assert "telethon" in str(caught.value)
    assert text not in str(caught.value)


def test_refusal_names_the_layouts_tried() -> None:
    text = base64.b64encode(bytes(range(200))).decode()
    with pytest.raises(UnknownSessionFormat) as caught:
        parse(text)
    message = str(caught.value)
    for fmt in STRING_FORMATS:
        assert fmt.value in message
    assert text not in message


@SETTINGS
@given(data=ip_sessions())
def test_pyrogram_render_without_user_id_is_unavailable(data: SessionData) -> None:
    assert data.user_id is None
    with pytest.raises(FormatUnavailable) as caught:
        render(data, SessionFormat.PYROGRAM)
    assert data.auth_key.hex() not in str(caught.value)


@SETTINGS
@given(data=ip_sessions(), user_id=user_ids)
def test_the_same_key_is_one_identity_in_every_layout(data: SessionData, user_id: int) -> None:
    telethon = parse(render(data, SessionFormat.TELETHON).reveal()).data
    gramjs = parse(render(data, SessionFormat.GRAMJS).reveal()).data
    pyrogram = parse(render(data.with_user(user_id), SessionFormat.PYROGRAM).reveal()).data
    assert telethon.identity() == gramjs.identity() == pyrogram.identity() == data.identity()


ZERO_BYTE_ADDRESSES = ["0.2.3.4", "::", "::1", "::e31:3439:2e31:3534", "0.0.0.0"]  # noqa: S104


@pytest.mark.parametrize("address", ZERO_BYTE_ADDRESSES)
def test_zero_byte_addresses_are_no_servers(address: str) -> None:
    """What a GramJS string read as Telethon's (or the reverse) yields; also what GramJS itself misreads ("::1")."""
    with pytest.raises(InvalidInput, match="zero byte"):
        SessionData(2, address, 443, bytes(range(256)))


@pytest.mark.parametrize("address", ["1", "a b", "-x-.org", "host_name.example"])
def test_an_address_must_be_an_ip_or_a_host_name(address: str) -> None:
    with pytest.raises(InvalidInput, match="neither an IP address nor a host name"):
        SessionData(2, address, 443, bytes(range(256)))


def test_a_host_name_reads_as_gramjs_but_is_not_rendered_as_telethon() -> None:
    data = SessionData(2, "venus.example.org", 443, bytes(range(256)))
    parsed = parse(render(data, SessionFormat.GRAMJS).reveal())
    assert (parsed.format, parsed.data.address) == (SessionFormat.GRAMJS, "venus.example.org")
    with pytest.raises(FormatUnavailable, match="host"):
        canonical(data)


def test_ipv6_text_is_kept_compressed() -> None:
    data = SessionData(2, "2001:067c:04e8:f002:0000:0000:0000:000a", 443, bytes(range(256)))
    assert data.address == "2001:67c:4e8:f002::a"
