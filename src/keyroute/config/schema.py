"""The configuration tree, with every default. Unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_admin_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    access_log: bool = False


class UpstreamConfig(_Section):
    timeout_seconds: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)


class AnthropicConfig(_Section):
    default_max_tokens: int = Field(default=4096, ge=1)


class ProvidersConfig(_Section):
    anthropic: AnthropicConfig = AnthropicConfig()


class BaseUrlConfig(_Section):
    """Which hosts a provider key's base URL may name (``keyroute.control.base_url``)."""

    allow_loopback: bool = True
    allow_private: bool = True
    allow_link_local: bool = False
    allow_metadata: bool = False
    allow_unspecified: bool = False
    allow_encoded_ip: bool = False


class LoggingConfig(_Section):
    level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


class Config(_Section):
    """Everything keyroute reads at start-up; passed down, never re-read."""

    data_dir: Path = Path(".keyroute")
    database_url: str = ""
    master_key: SecretStr | None = None
    server: ServerConfig = ServerConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    providers: ProvidersConfig = ProvidersConfig()
    base_urls: BaseUrlConfig = BaseUrlConfig()
    logging: LoggingConfig = LoggingConfig()

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or the SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keyroute.db').resolve()}"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"
