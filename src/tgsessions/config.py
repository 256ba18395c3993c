"""Settings from environment variables and ``.env`` (prefix ``TGS_``). No module-level instance: the composition
root (bootstrap.py) builds one when the service starts. What settings mean needs no adapter: :func:`options_from`
(the service's options) and :func:`check_backend` (a Telegram backend is chosen, with its credentials)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.policies import BreakerPolicy, LoginBudget
from tgsessions.service.options import FactoryOptions, MaintenanceOptions, RetryOptions


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TGS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="where the embedded default keeps its database and key file")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; unset = embedded SQLite in data_dir (postgresql+asyncpg://... for several)"
    )
    key_file: Path | None = Field(None, description="encryption key file; unset = data_dir/tgsessions.key")

    telegram_backend: Literal["telethon", "simulated"] | None = Field(
        None, description="'telethon' for real Telegram, 'simulated' for demos and tests; must be chosen"
    )
    allow_backend_switch: bool = Field(
        False, description="start over a database another Telegram backend wrote (and record this one instead)"
    )
    api_id: int | None = Field(None, description="Telegram API id (my.telegram.org), required for telethon")
    api_hash: SecretStr | None = Field(None, description="Telegram API hash, required for telethon")
    telegram_endpoint: Literal["production", "test", "custom"] = Field(
        "production", description="Telegram's servers, Telegram's test servers, or a custom MTProto server"
    )
    telegram_dc_id: int | None = Field(None, ge=1, description="custom endpoint: the data centre id")
    telegram_host: str | None = Field(None, description="custom endpoint: the server address")
    telegram_port: int = Field(443, ge=1, le=65535, description="custom endpoint: the server port")
    telegram_rsa_key_file: Path | None = Field(None, description="custom endpoint: the server's RSA public key (PEM)")
    telegram_max_concurrency: int = Field(20, ge=1, description="Telegram calls in flight at once, overall")
    telegram_per_account_concurrency: int = Field(2, ge=1, description="Telegram calls in flight per account")
    telegram_pool_idle_seconds: float = Field(60.0, gt=0, description="idle connections are closed after this")
    device_model: str = Field("tgsessions", description="default client identity for new sessions")
    system_version: str = "Linux"
    app_version: str = "1.0"
    lang_code: str = "en"
    system_lang_code: str = "en"

    host: str = Field("127.0.0.1", description="address the HTTP server listens on")
    port: int = Field(8080, ge=1, le=65535, description="port the HTTP server listens on")
    rate_limit_per_minute: int = Field(600, ge=0, description="requests per API key per minute (0: unlimited)")
    api_compat: Literal["native", "original"] = Field(
        "native", description="HTTP API profile: native (tgsessions' own) or original (the replaced NestJS service's)"
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="a larger request body is refused with 413")
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="a request body must arrive within this (else 408 and the connection is closed)"
    )
    header_read_timeout_seconds: float = Field(
        10.0, gt=0, description="a connection that sends no complete request head within this is closed"
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="a request head still incomplete after this many bytes is refused with 400"
    )
    keep_alive_seconds: int = Field(5, ge=1, description="an idle kept-alive connection is closed after this")
    max_connections: int = Field(1000, ge=1, description="connections at once; requests beyond it get 503")

    log_format: Literal["json", "console", "auto"] = Field(
        "auto", description="json (production), console (readable), auto: console on a terminal, else json"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    cache_backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    verdict_ttl_seconds: float = Field(300.0, gt=0)
    cache_max_entries: int = Field(
        200_000,
        ge=1,
        description="bound of the in-memory verdict cache (about 400 bytes per entry, bench/cache.py): the default "
        "holds a verdict for every session of a 50,000-account fleet, every primary of 200,000",
    )

    validation_timeout: float = Field(10.0, gt=0)
    mint_timeout: float = Field(30.0, gt=0)
    retry_attempts: int = Field(3, ge=1, le=10)
    retry_base_delay: float = Field(0.5, ge=0)
    retry_max_delay: float = Field(5.0, ge=0)
    breaker_threshold: int = Field(3, ge=1)
    breaker_cooldown_seconds: float = Field(60.0, gt=0)
    login_budget: int = Field(5, ge=1, description="login attempts per account per rolling window")
    login_window_hours: float = Field(24.0, gt=0)
    login_reserve: int = Field(2, ge=0, description="attempts that background top-ups leave for fetch")
    max_backups: int = Field(10, ge=0, le=50)
    target_backups: int = Field(2, ge=0, le=10)
    batch_concurrency: int = Field(25, ge=1, le=50)
    lease_ttl_seconds: float = Field(
        10.0, gt=0, description="per-phone lease; renewed while held, so a dead process's leases free within it"
    )

    maintenance_interval_seconds: float = Field(
        3600.0, ge=0, description="serve runs maintenance this often, one instance at a time (0: never)"
    )
    maintenance_start_delay_seconds: float = Field(
        30.0, ge=0, description="the first scheduled maintenance waits this long after serve starts"
    )
    keepalive_hours: float = Field(
        24.0, ge=0, description="maintenance reconnects a session Telegram has not confirmed for this long"
    )
    maintenance_calls_per_second: float = Field(
        5.0, ge=0, description="Telegram calls of a maintenance run, overall (0: not paced)"
    )
    maintenance_account_calls_per_minute: float = Field(
        20.0, ge=0, description="Telegram calls of a maintenance run per account (0: not paced)"
    )
    maintenance_route_calls_per_second: float = Field(
        5.0, ge=0, description="Telegram calls of a maintenance run per data centre, or per proxy (0: not paced)"
    )
    maintenance_workers: int = Field(4, ge=1, le=256, description="accounts a maintenance run works on at once")

    @model_validator(mode="after")
    def _pacing_fits_the_validation_timeout(self) -> Settings:
        """A paced call waits inside its validation timeout: one pacing step must leave room for the call."""
        steps = {
            "maintenance_calls_per_second": 1 / self.maintenance_calls_per_second
            if self.maintenance_calls_per_second
            else 0.0,
            "maintenance_route_calls_per_second": 1 / self.maintenance_route_calls_per_second
            if self.maintenance_route_calls_per_second
            else 0.0,
            "maintenance_account_calls_per_minute": 60 / self.maintenance_account_calls_per_minute
            if self.maintenance_account_calls_per_minute
            else 0.0,
        }
        for name, step in steps.items():
            if step >= self.validation_timeout / 2:
                raise ValueError(
                    f"TGS_{name.upper()} is too low: one call every {step:g} s does not fit half the validation "
                    f"timeout ({self.validation_timeout:g} s); raise it or set 0 to disable pacing"
                )
        for name in ("maintenance_calls_per_second", "maintenance_route_calls_per_second"):
            rate = getattr(self, name)
            if rate and self.maintenance_workers / rate > self.validation_timeout / 4:
                raise ValueError(
                    f"TGS_MAINTENANCE_WORKERS ({self.maintenance_workers}) queued on TGS_{name.upper()} ({rate:g}) "
                    f"wait up to {self.maintenance_workers / rate:g} s, more than a quarter of the validation timeout "
                    f"({self.validation_timeout:g} s); use fewer workers or a higher rate"
                )
        return self

    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'tgsessions.db').resolve()}"

    def effective_key_file(self) -> Path:
        return self.key_file or self.data_dir / "tgsessions.key"

    @property
    def embedded(self) -> bool:
        """The embedded default: SQLite in data_dir with a key file created on first start."""
        return self.database_url is None and self.key_file is None


def options_from(settings: Settings) -> FactoryOptions:
    return FactoryOptions(
        validation_timeout=settings.validation_timeout,
        mint_timeout=settings.mint_timeout,
        retry=RetryOptions(settings.retry_attempts, settings.retry_base_delay, settings.retry_max_delay),
        breaker=BreakerPolicy(settings.breaker_threshold, timedelta(seconds=settings.breaker_cooldown_seconds)),
        login_budget=LoginBudget(settings.login_budget, timedelta(hours=settings.login_window_hours)),
        login_reserve=settings.login_reserve,
        max_backups=settings.max_backups,
        target_backups=settings.target_backups,
        batch_concurrency=settings.batch_concurrency,
        lease_ttl=timedelta(seconds=settings.lease_ttl_seconds),
        default_identity=ClientIdentity(
            api_id=settings.api_id,
            device_model=settings.device_model,
            system_version=settings.system_version,
            app_version=settings.app_version,
            lang_code=settings.lang_code,
            system_lang_code=settings.system_lang_code,
        ),
        maintenance=MaintenanceOptions(
            keepalive=timedelta(hours=settings.keepalive_hours),
            calls_per_second=settings.maintenance_calls_per_second,
            route_calls_per_second=settings.maintenance_route_calls_per_second,
            account_calls_per_minute=settings.maintenance_account_calls_per_minute,
            workers=settings.maintenance_workers,
        ),
    )


def telegram_rsa_key(settings: Settings) -> str | None:
    """The custom endpoint's RSA public key (PEM text) from TGS_TELEGRAM_RSA_KEY_FILE, when one is named."""
    if settings.telegram_rsa_key_file is None:
        return None
    try:
        return settings.telegram_rsa_key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError(
            f"TGS_TELEGRAM_RSA_KEY_FILE={settings.telegram_rsa_key_file} cannot be read as a PEM file"
        ) from None


def check_backend(settings: Settings) -> None:
    """The backend is never simulated by accident, and the real one needs its credentials."""
    if settings.telegram_backend is None:
        missing = [name for name, value in (("TGS_API_ID", settings.api_id), ("TGS_API_HASH", settings.api_hash))
                   if value is None]  # fmt: skip
        raise ConfigurationError(
            "no Telegram backend chosen: set TGS_TELEGRAM_BACKEND=telethon with "
            f"{' and '.join(missing) or 'TGS_API_ID and TGS_API_HASH'}, or TGS_TELEGRAM_BACKEND=simulated for a demo"
        )
    if settings.telegram_backend == "telethon" and (settings.api_id is None or settings.api_hash is None):
        missing = [name for name, value in (("TGS_API_ID", settings.api_id), ("TGS_API_HASH", settings.api_hash))
                   if value is None]  # fmt: skip
        raise ConfigurationError(f"the Telethon backend needs {' and '.join(missing)} (from my.telegram.org)")


def backend_switch_refusal(recorded: str, current: str) -> ConfigurationError:
    """Why a database another Telegram backend wrote is refused (unless TGS_ALLOW_BACKEND_SWITCH=1)."""
    if current == "simulated":
        why = "the simulated Telegram would find its real sessions dead and retire them"
    else:
        why = "its sessions are the simulated Telegram's, which real Telegram rejects as dead"
    return ConfigurationError(
        f"this database was written by the {recorded} Telegram backend, not {current}: {why}; use a database "
        f"of its own for {current}, or set TGS_ALLOW_BACKEND_SWITCH=1 to switch it on purpose"
    )
