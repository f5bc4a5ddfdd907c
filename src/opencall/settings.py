"""All configuration, read from the environment (`OPENCALL_` prefix). Defaults are the embedded ones."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENCALL_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    """Address the HTTP server binds."""
    port: int = 8000
    """Port the HTTP server binds."""
    public_url: str | None = None
    """Base URL callers and carriers reach us at (e.g. https://calls.example.com); defaults to http://host:port."""
    data_dir: Path = Path("./data")
    """Where the SQLite file, uploaded files and recordings live."""
    database_url: str | None = None
    """SQLAlchemy URL; default sqlite in data_dir. PostgreSQL: postgresql+psycopg://user@host/db."""
    redis_url: str | None = None
    """Redis for multi-process deployments (optional on one machine)."""
    api_key: str | None = None
    """If set, the first start on an empty database makes this the first org's private key."""
    secret_key: str | None = None
    """Fernet key (urlsafe base64 of 32 bytes) that encrypts provider secrets at rest; generated into
    data_dir if unset."""
    auto_migrate: bool = True
    """Apply database migrations at server start (turn off when `opencall migrate` runs separately)."""
    call_orphan_seconds: float = 20.0
    """Seconds without a heartbeat after which recovery ends a live call (beats come 4 times as often)."""
    log_level: str = "INFO"
    """Python logging level."""

    # embedded models
    whisper_threads: int = 2
    """CPU threads for the local Whisper transcriber."""
    llm_threads: int = 1
    """CPU threads for the local llama.cpp model. 1: two busy-waiting threads stall badly when Whisper
    and Piper share 2 cores (time to first token 6.1 s against 0.2 s, measured under load)."""
    llm_context: int = 2048
    """Context window of the local llama.cpp model, tokens."""
    preload_models: bool = False
    """Load the embedded models at server start instead of on the first call."""

    # prices used for cost fields (USD); local models are free
    price_per_minute_transport: float = 0.0
    """Transport cost per call minute."""

    cloud_base_urls: dict[str, str] = Field(default_factory=dict)
    """Override of cloud API base URLs by provider (openai, deepgram, 11labs, twilio), for simulators and proxies."""

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'opencall.db').resolve()}"
