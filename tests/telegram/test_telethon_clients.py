"""ClientFactory and TelethonConfig: endpoints, the RSA key, identities, proxies, quiet Telethon settings."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from telethon.crypto import rsa as telethon_rsa
from telethon.network import ConnectionTcpFull, ConnectionTcpMTProxyRandomizedIntermediate

from tests.telegram.tl_server import API_HASH, ScriptedClient
from tgsessions.adapters.telegram.telethon import ClientFactory, TelethonConfig
from tgsessions.adapters.telegram.telethon.clients import MalformedSession, parse_session, proxy_arguments
from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.secret import Secret

IDENTITY = ClientIdentity(api_id=777, device_model="dev-x", system_version="OS 9", app_version="3.1", lang_code="de")


def config(**overrides: object) -> TelethonConfig:
    values: dict[str, object] = {"api_id": 12345, "api_hash": Secret(API_HASH)}
    return TelethonConfig(**(values | overrides))  # type: ignore[arg-type]


def pem(kind: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    fmt = serialization.PublicFormat.PKCS1 if kind == "pkcs1" else serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_bytes(serialization.Encoding.PEM, fmt).decode()


@pytest.mark.parametrize("kind", ["pkcs1", "spki"])
def test_custom_endpoint_sets_the_dc_and_registers_the_rsa_key(kind: str) -> None:
    factory = ClientFactory(
        config(endpoint="custom", dc_id=7, host="10.1.2.3", port=8443, rsa_key_pem=pem(kind)), ScriptedClient
    )
    assert factory.rsa_fingerprint in telethon_rsa._server_keys
    client = factory.fresh(IDENTITY, None)
    assert (client.session.dc_id, client.session.server_address, client.session.port) == (7, "10.1.2.3", 8443)
    assert client.session.auth_key is None


def test_test_and_production_endpoints() -> None:
    test = ClientFactory(config(endpoint="test"), ScriptedClient).fresh(IDENTITY, None)
    assert (test.session.dc_id, test.session.server_address) == (2, "149.154.167.40")
    production = ClientFactory(config(), ScriptedClient).fresh(IDENTITY, None)
    assert not production.session.server_address  # Telethon's default DC on connect


@pytest.mark.parametrize(
    "bad",
    [
        {"api_id": 0},
        {"api_hash": Secret("")},
        {"endpoint": "custom"},
        {"endpoint": "custom", "dc_id": 1},
        {"max_concurrency": 0},
    ],
)
def test_config_refuses_incomplete_settings(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        config(**bad)


def test_bad_rsa_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="RSA"):
        ClientFactory(config(endpoint="custom", dc_id=1, host="10.0.0.1", rsa_key_pem="nope"), ScriptedClient)


def test_client_carries_the_pinned_identity_and_quiet_settings() -> None:
    factory = ClientFactory(config(), ScriptedClient)
    client = factory.fresh(IDENTITY, None)
    init = client._init_request
    assert (init.api_id, init.device_model, init.system_version, init.app_version, init.lang_code) == (
        777,
        "dev-x",
        "OS 9",
        "3.1",
        "de",
    )
    assert client.flood_sleep_threshold == 0
    assert client._request_retries == 1
    assert client._connection_retries == 1
    assert client._auto_reconnect is False
    assert client._no_updates is True
    default = factory.fresh(ClientIdentity(api_id=None), None)
    assert default.api_id == 12345


def test_proxies_map_to_telethon_arguments() -> None:
    assert proxy_arguments(None) == (ConnectionTcpFull, None)
    socks = Proxy("socks5", "10.0.0.9", 1080, username="u", password=Secret("pw"))
    assert proxy_arguments(socks) == (
        ConnectionTcpFull,
        {"proxy_type": "socks5", "addr": "10.0.0.9", "port": 1080, "rdns": True, "username": "u", "password": "pw"},
    )
    http = proxy_arguments(Proxy("http", "proxy.local", 3128))
    assert http == (ConnectionTcpFull, {"proxy_type": "http", "addr": "proxy.local", "port": 3128, "rdns": True})
    mtproxy = Proxy("mtproxy", "mt.example", 443, password=Secret("dd" + "ab" * 16))
    assert proxy_arguments(mtproxy) == (
        ConnectionTcpMTProxyRandomizedIntermediate,
        ("mt.example", 443, "dd" + "ab" * 16),
    )
    client = ClientFactory(config(), ScriptedClient).fresh(IDENTITY, mtproxy)
    assert client.built_with["connection"] is ConnectionTcpMTProxyRandomizedIntermediate
    with pytest.raises(ConfigurationError):
        proxy_arguments(Proxy("mtproxy", "mt.example", 443))
    with pytest.raises(ConfigurationError):
        proxy_arguments(Proxy("ftp", "x", 1))


@pytest.mark.parametrize("text", ["", "1", "x" * 353, "1" + "A" * 352, "1" + "!" * 352])
def test_parse_session_rejects_without_echo(text: str) -> None:
    with pytest.raises(MalformedSession) as info:
        parse_session(Secret(text))
    assert text not in str(info.value) or not text
    assert info.value.__cause__ is None


def test_reprs_hide_the_api_hash() -> None:
    cfg = config(rsa_key_pem=pem("pkcs1"), endpoint="custom", dc_id=1, host="10.0.0.1")
    for text in (repr(cfg), repr(ClientFactory(cfg, ScriptedClient))):
        assert API_HASH not in text
        assert "BEGIN" not in text
