"""Settings from environment variables and ``.env`` (prefix ``TGS_``). No module-level instance: the composition
root (bootstrap.py) builds one when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    cache_backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    verdict_ttl_seconds: float = Field(300.0, gt=0)
    cache_max_entries: int = Field(1000, ge=1)

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
    lease_ttl_seconds: float = Field(120.0, gt=0)

    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'tgsessions.db').resolve()}"

    def effective_key_file(self) -> Path:
        return self.key_file or self.data_dir / "tgsessions.key"

    @property
    def embedded(self) -> bool:
        """The embedded default: SQLite in data_dir with a key file created on first start."""
        return self.database_url is None and self.key_file is None
