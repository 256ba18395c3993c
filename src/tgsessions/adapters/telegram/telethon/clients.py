"""Building Telethon clients: the endpoint, the pinned identity, the account's proxy, and Telethon turned quiet.

Telethon sleeps through flood waits and retries requests and connections by itself; a validator with a 10 s budget
cannot afford that, so every client is built with ``flood_sleep_threshold=0``, few retries, no updates and no
auto-reconnect (docs/telegram.md). The client class is injectable so tests can answer its calls in memory.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Literal

from telethon import TelegramClient
from telethon.crypto import rsa as telethon_rsa
from telethon.network import ConnectionTcpFull, ConnectionTcpMTProxyRandomizedIntermediate
from telethon.sessions import StringSession

from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.model import ClientIdentity, Proxy
from tgsessions.domain.secret import Secret

Endpoint = Literal["production", "test", "custom"]

# Telegram's test data centres (my.telegram.org, "test configuration"); they serve test accounts only.
TEST_DC_ADDRESSES: dict[int, str] = {1: "149.154.175.10", 2: "149.154.167.40", 3: "149.154.175.117"}
TEST_DEFAULT_DC = 2
PROXY_SCHEMES = ("socks5", "socks4", "http", "mtproxy")


class MalformedSession(ValueError):
    """The text is not a Telethon StringSession with an auth key. The message never contains the text."""

    def __init__(self) -> None:
        super().__init__("not a Telethon session string with an auth key")


@dataclass(frozen=True, slots=True)
class TelethonConfig:
    """Everything the Telethon gateway needs besides the sessions themselves."""

    api_id: int
    api_hash: Secret
    endpoint: Endpoint = "production"
    dc_id: int | None = None  # custom (required) or test (default 2)
    host: str | None = None  # an IP address: StringSession stores the DC address as one
    port: int = 443
    rsa_key_pem: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    request_timeout: float = 5.0
    request_retries: int = 1
    connection_retries: int = 1
    pool_idle_seconds: float = 60.0
    max_concurrency: int = 20
    per_account_concurrency: int = 2
    default_identity: ClientIdentity = field(default_factory=ClientIdentity)
    code_poll_interval: float = 1.0  # code fallback: how often the source looks for the 777000 message
    code_poll_attempts: int = 10
    code_clock_skew: float = 5.0  # a code message may be dated this much before our send_code call
    cleanup_timeout: float = 5.0  # logging an orphan authorization out, disconnecting

    def __post_init__(self) -> None:
        if self.api_id <= 0 or not self.api_hash:
            raise ConfigurationError("the Telethon backend needs TGS_API_ID and TGS_API_HASH (my.telegram.org)")
        if self.endpoint == "custom" and (self.dc_id is None or not self.host):
            raise ConfigurationError(
                "a custom Telegram endpoint needs TGS_TELEGRAM_DC_ID, TGS_TELEGRAM_HOST and TGS_TELEGRAM_PORT"
            )
        if self.endpoint not in ("production", "test", "custom"):
            raise ConfigurationError(f"unknown Telegram endpoint {self.endpoint!r}")
        if min(self.max_concurrency, self.per_account_concurrency) < 1:
            raise ConfigurationError("Telegram concurrency limits must be at least 1")

    def home_dc(self) -> tuple[int, str, int] | None:
        """Where a new (empty) session connects first; None for production (Telethon's own default DC)."""
        if self.endpoint == "production":
            return None
        if self.endpoint == "test":
            dc = self.dc_id or TEST_DEFAULT_DC
            return dc, self.host or TEST_DC_ADDRESSES.get(dc, TEST_DC_ADDRESSES[TEST_DEFAULT_DC]), self.port
        assert self.dc_id is not None
        assert self.host is not None
        return self.dc_id, self.host, self.port


def register_rsa_key(pem: str) -> int:
    """Teach Telethon the server's RSA public key (PKCS#1 or SubjectPublicKeyInfo PEM); returns its fingerprint."""
    import rsa

    try:
        if "BEGIN PUBLIC KEY" in pem:
            pem = rsa.PublicKey.load_pkcs1_openssl_pem(pem.encode()).save_pkcs1().decode()
        telethon_rsa.add_key(pem, old=False)
        fingerprint: int = telethon_rsa._compute_fingerprint(rsa.PublicKey.load_pkcs1(pem.encode()))
    except Exception:
        raise ConfigurationError("TGS_TELEGRAM_RSA_KEY_FILE is not an RSA public key in PEM format") from None
    return fingerprint


def parse_session(string: Secret) -> StringSession:
    """A StringSession from ``string``, or MalformedSession (empty, wrong version or length, no auth key)."""
    raw = string.reveal()
    if not raw:
        raise MalformedSession()
    try:
        session = StringSession(raw)
    except Exception:  # ValueError, struct.error, binascii.Error: never echo the text
        raise MalformedSession() from None
    key = session.auth_key
    if key is None or not key.key or not any(key.key) or session.dc_id <= 0 or not session.port:
        raise MalformedSession()
    return session


def proxy_arguments(proxy: Proxy | None) -> tuple[type[Any], Any]:
    """Telethon's ``connection`` class and ``proxy`` argument for an account's proxy."""
    if proxy is None:
        return ConnectionTcpFull, None
    scheme = proxy.scheme.lower()
    if scheme == "mtproxy":
        if proxy.password is None:
            raise ConfigurationError(f"the MTProxy {proxy.host}:{proxy.port} needs its secret as the password")
        return ConnectionTcpMTProxyRandomizedIntermediate, (proxy.host, proxy.port, proxy.password.reveal())
    if scheme not in PROXY_SCHEMES:
        raise ConfigurationError(f"unsupported proxy scheme {proxy.scheme!r} (use one of {', '.join(PROXY_SCHEMES)})")
    if importlib.util.find_spec("python_socks") is None:  # Telethon would silently connect without the proxy
        raise ConfigurationError("SOCKS and HTTP proxies need the python-socks package")
    arguments: dict[str, Any] = {"proxy_type": scheme, "addr": proxy.host, "port": proxy.port, "rdns": True}
    if proxy.username:
        arguments["username"] = proxy.username
    if proxy.password is not None:
        arguments["password"] = proxy.password.reveal()
    return ConnectionTcpFull, arguments


class ClientFactory:
    """Builds Telethon clients for sessions. Only ``client_class`` talks to the network."""

    def __init__(self, config: TelethonConfig, client_class: type[Any] = TelegramClient) -> None:
        self.config = config
        self.client_class = client_class
        self.rsa_fingerprint = register_rsa_key(config.rsa_key_pem) if config.rsa_key_pem else None

    def __repr__(self) -> str:
        return f"ClientFactory(endpoint={self.config.endpoint!r}, client_class={self.client_class.__name__})"

    def api_id_for(self, identity: ClientIdentity) -> int:
        return identity.api_id or self.config.api_id

    def for_session(self, string: Secret, identity: ClientIdentity, proxy: Proxy | None) -> Any:
        """A client of an existing session (MalformedSession when the string is not one)."""
        return self.build(parse_session(string), identity, proxy)

    def fresh(self, identity: ClientIdentity, proxy: Proxy | None) -> Any:
        """A client with an empty session, placed on the endpoint's home DC, for a new login."""
        session = StringSession()
        home = self.config.home_dc()
        if home is not None:
            session.set_dc(*home)
        return self.build(session, identity, proxy)

    def build(self, session: StringSession, identity: ClientIdentity, proxy: Proxy | None) -> Any:
        connection, proxy_argument = proxy_arguments(proxy)
        return self.client_class(
            session,
            self.api_id_for(identity),
            self.config.api_hash.reveal(),
            connection=connection,
            proxy=proxy_argument,
            timeout=max(1, round(self.config.connect_timeout)),
            request_retries=self.config.request_retries,
            connection_retries=self.config.connection_retries,
            retry_delay=0,
            auto_reconnect=False,
            flood_sleep_threshold=0,
            receive_updates=False,
            device_model=identity.device_model,
            system_version=identity.system_version,
            app_version=identity.app_version,
            lang_code=identity.lang_code,
            system_lang_code=identity.system_lang_code,
        )
