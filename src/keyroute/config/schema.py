"""The configuration tree, with every default. Unknown keys are errors."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from keyroute.core.timeouts import (
    DEFAULT_CONNECT,
    DEFAULT_FIRST_BYTE,
    DEFAULT_IDLE,
    DEFAULT_TOTAL,
    Timeouts,
)

# A chat completion is a few hundred KB at most; 16 MiB leaves room for embeddings batches of
# about 1,000 vectors of 1,536 dimensions while keeping a hostile body's cost bounded.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Provider error bodies are well under 4 KB; more is read no further and never relayed.
DEFAULT_MAX_ERROR_BYTES = 16 * 1024
# One bare address (no display name, nothing that could end a mail header).
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_admin_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    body_timeout_seconds: float = Field(default=20.0, gt=0)
    body_min_rate_bytes: int = Field(default=1024, ge=1)
    # A streamed answer's client must take each chunk within this, or the stream is ended and
    # the connection closed (a client that stops reading holds nothing longer).
    stream_write_timeout_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    access_log: bool = False
    # On SIGTERM: how long open requests and streams may finish before streams are ended with
    # an in-band error and the process flushes its background writers and exits.
    shutdown_grace_seconds: int = Field(default=10, ge=0, le=3600)
    # How often a server reads configuration changes committed by other processes (the CLI,
    # other workers): a revoked key stops working within about this long.
    change_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # How long a tool call's provider signature (Gemini thought signatures) is kept for replay.
    tool_signature_retention_days: float = Field(default=7.0, gt=0, le=365)
    # How long a stored Responses API turn (for previous_response_id) is kept.
    response_retention_days: float = Field(default=30.0, gt=0, le=3650)


class ResilienceConfig(_Section):
    """Retries, failover and circuit breakers (``keyroute.resilience``)."""

    max_attempts: int = Field(default=5, ge=1, le=20)  # per request, every candidate included
    max_retries: int = Field(default=2, ge=0, le=10)  # of one target, on transient errors
    max_retry_after_seconds: float = Field(default=5.0, ge=0, le=300, allow_inf_nan=False)
    breakers: bool = True
    breaker_window: int = Field(default=20, ge=1, le=10_000)
    breaker_min_calls: int = Field(default=5, ge=1, le=10_000)
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    breaker_open_seconds: float = Field(default=30.0, gt=0, le=86_400, allow_inf_nan=False)
    # A provider key its provider refused (401, 403) is skipped this long, for every model.
    key_rejected_seconds: float = Field(default=300.0, gt=0, le=86_400, allow_inf_nan=False)
    # A provider's retries over 10 s stay under this share of its requests (or the floor below).
    retry_budget_percent: float = Field(default=20.0, ge=0, le=100, allow_inf_nan=False)
    retry_budget_min_retries: int = Field(default=10, ge=0, le=100_000)


class UpstreamConfig(_Section):
    """Calls to providers: time limits (``keyroute.core.timeouts`` explains each), pool, sizes."""

    # The total, head and body. Every limit is finite: "inf" would mean no limit at all.
    timeout_seconds: float = Field(default=DEFAULT_TOTAL, gt=0, allow_inf_nan=False)
    connect_timeout_seconds: float = Field(default=DEFAULT_CONNECT, gt=0, allow_inf_nan=False)
    first_byte_timeout_seconds: float = Field(default=DEFAULT_FIRST_BYTE, gt=0, allow_inf_nan=False)
    idle_timeout_seconds: float = Field(default=DEFAULT_IDLE, gt=0, allow_inf_nan=False)
    max_connections: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_error_bytes: int = Field(default=DEFAULT_MAX_ERROR_BYTES, ge=256)

    def timeouts(self) -> Timeouts:
        """The limits every upstream call gets when no policy sets others."""
        return Timeouts(
            connect=self.connect_timeout_seconds,
            first_byte=self.first_byte_timeout_seconds,
            idle=self.idle_timeout_seconds,
            total=self.timeout_seconds,
        )


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


class AuditConfig(_Section):
    gateway_rate_per_second: float = Field(default=20.0, gt=0)
    gateway_burst: int = Field(default=500, ge=1)
    prune_interval_seconds: float = Field(default=3600.0, gt=0)


class CachingConfig(_Section):
    """The exact response cache's memory (``keyroute.caching``): per process, LRU by bytes."""

    response_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=2**40)
    response_cache_max_entry_bytes: int = Field(default=1024 * 1024, ge=0, le=2**34)


class SmtpConfig(_Section):
    """The SMTP server alert emails go through (``KEYROUTE__ALERTS__SMTP__PASSWORD`` keeps the
    password out of the file). A login is never sent in clear text: ``username`` needs
    ``starttls`` unless the server is on the loopback interface (a local relay)."""

    host: str = ""  # empty: email channels cannot deliver (their attempts fail, in history)
    port: int = Field(default=587, ge=1, le=65535)
    username: str = ""
    password: SecretStr | None = None
    starttls: bool = True
    from_: str = Field(default="keyroute@localhost", alias="from")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300, allow_inf_nan=False)
    # A CA bundle to verify the server's STARTTLS certificate with (default: the system's).
    ca_file: Path | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() or c in "/@" for c in value):
            raise ValueError("a host name or IP address, like smtp.example.com")
        return value

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value):
            raise ValueError("one email address, like keyroute@example.com")
        return value

    @model_validator(mode="after")
    def _login_over_tls(self) -> SmtpConfig:
        if self.username and not self.starttls and self.host not in _LOOPBACK:
            raise ValueError(
                "username with starttls = false would send the SMTP password in clear text: "
                "set starttls = true (or relay through a server on localhost)"
            )
        return self


class AlertsConfig(_Section):
    """Burn-rate alerts: evaluation cadence, velocity buckets, delivery retries."""

    enabled: bool = True
    evaluate_interval_seconds: float = Field(default=15.0, gt=0, le=15, allow_inf_nan=False)
    # A request that costs at least this much (USD) wakes the evaluator at once.
    immediate_cost_usd: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    # How long a woken evaluation waits for the usage writer to store the request (its batch
    # interval is 0.5 s), so the rules see it in the database like every worker's spend.
    settle_seconds: float = Field(default=1.0, ge=0, le=30, allow_inf_nan=False)
    bucket_seconds: int = Field(default=60, ge=1, le=3600)
    # Usage rows are re-read this far back at every evaluation (rows land after the request).
    sync_overlap_seconds: float = Field(default=900.0, ge=1, le=86_400, allow_inf_nan=False)
    lease_seconds: float = Field(default=45.0, gt=0, le=3600, allow_inf_nan=False)
    delivery_attempts: int = Field(default=5, ge=1, le=20)
    retry_base_seconds: float = Field(default=2.0, gt=0, le=600, allow_inf_nan=False)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)
    smtp: SmtpConfig = SmtpConfig()


class LoggingConfig(_Section):
    level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


class Config(_Section):
    """Everything keyroute reads at start-up; passed down, never re-read."""

    data_dir: Path = Path(".keyroute")
    database_url: str = ""
    master_key: SecretStr | None = None
    server: ServerConfig = ServerConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    resilience: ResilienceConfig = ResilienceConfig()
    providers: ProvidersConfig = ProvidersConfig()
    base_urls: BaseUrlConfig = BaseUrlConfig()
    logging: LoggingConfig = LoggingConfig()
    audit: AuditConfig = AuditConfig()
    caching: CachingConfig = CachingConfig()
    alerts: AlertsConfig = AlertsConfig()

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or the SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keyroute.db').resolve()}"

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"
