"""The SQL schema of keyroute, defined once for every SQL backend.

These ``Table`` objects are dialect-neutral: SQLite uses them today and PostgreSQL will reuse them.
They are the target of the Alembic history in ``storage/migrations``; a unit test checks that the
migrations produce exactly these tables, so a change here needs a new migration.

Invariants:

- every row that belongs to a workspace has ``workspace_id`` with ``ON DELETE CASCADE``;
- names are unique per scope, and for keys only among non-revoked rows (partial unique indexes);
- times go in and come out timezone-aware UTC (``UtcDateTime``);
- money is integer pico-dollars (``BigInteger``), NULL when the price is unknown, never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that refuses naive values and always comes back timezone-aware UTC.

    PostgreSQL stores ``timestamptz``; SQLite stores fixed-width UTC text, which also sorts and
    compares correctly as text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _workspace_fk() -> Column[str]:
    return Column(
        "workspace_id",
        String,
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    )


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("plan", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("wrapped_data_key", LargeBinary, nullable=False),
    Column("master_key_id", String, nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String, nullable=False),
    _workspace_fk(),
    Column("name", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("key_hash", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("paused_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("id"),
)
Index("ix_api_keys_key_hash", api_keys.c.key_hash, unique=True)
Index("ix_api_keys_workspace_id", api_keys.c.workspace_id)
Index(
    "uq_api_keys_active_name",
    api_keys.c.workspace_id,
    api_keys.c.name,
    unique=True,
    sqlite_where=api_keys.c.revoked_at.is_(None),
    postgresql_where=api_keys.c.revoked_at.is_(None),
)

provider_keys = Table(
    "provider_keys",
    metadata,
    Column("id", String, nullable=False),
    _workspace_fk(),
    Column("provider", String, nullable=False),
    Column("name", String, nullable=False),
    Column("base_url", String, nullable=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("fingerprint", String, nullable=False),
    Column("last4", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    # Rows written before this column existed are AAD v1 (see keyroute.vault.crypto).
    Column("aad_version", Integer, nullable=False, server_default="1"),
    PrimaryKeyConstraint("id"),
)
Index("ix_provider_keys_workspace_id", provider_keys.c.workspace_id)
Index(
    "uq_provider_keys_active_name",
    provider_keys.c.workspace_id,
    provider_keys.c.name,
    unique=True,
    sqlite_where=provider_keys.c.revoked_at.is_(None),
    postgresql_where=provider_keys.c.revoked_at.is_(None),
)

aliases = Table(
    "aliases",
    metadata,
    _workspace_fk(),
    Column("alias", String, nullable=False),
    Column("target", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "alias"),
)

price_overrides = Table(
    "price_overrides",
    metadata,
    _workspace_fk(),
    Column("provider", String, nullable=False),
    Column("model", String, nullable=False),  # "" = every model of the provider
    Column("discount_percent", String, nullable=True),  # a decimal number, 0 to 100
    Column("prices", Text, nullable=True),  # JSON object: token class -> decimal string
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "provider", "model"),
)

# The change sequence number of each workspace's latest configuration change (see
# ``storage.sqlite_changes``). No foreign key: a deleted workspace's last change is a change too.
workspace_changes = Table(
    "workspace_changes",
    metadata,
    Column("workspace_id", String, nullable=False),
    Column("revision", Integer, nullable=False),
    PrimaryKeyConstraint("workspace_id"),
)
Index("ix_workspace_changes_revision", workspace_changes.c.revision)

settings = Table(
    "settings",
    metadata,
    Column("key", String, nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("key"),
)


usage = Table(
    "usage",
    metadata,
    Column("id", String, nullable=False),
    Column("request_id", String, nullable=False),
    _workspace_fk(),
    Column("time", UtcDateTime, nullable=False),
    Column("api_key_id", String, nullable=True),
    Column("end_user", String, nullable=True),
    Column("endpoint", String, nullable=False),
    Column("operation", String, nullable=True),
    Column("inbound_format", String, nullable=False),
    Column("requested_model", String, nullable=True),
    Column("served_model", String, nullable=True),
    Column("provider", String, nullable=True),
    Column("provider_key_id", String, nullable=True),
    Column("route_policy", String, nullable=True),
    Column("cache_outcome", String, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_code", String, nullable=True),
    Column("stream_outcome", String, nullable=True),
    Column("input_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("cache_write_1h_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("usage_estimated", Boolean, nullable=False),
    Column("paid_pico", BigInteger, nullable=True),
    Column("list_pico", BigInteger, nullable=True),
    Column("uncached_pico", BigInteger, nullable=True),
    Column("reference_pico", BigInteger, nullable=True),
    Column("total_ms", Float, nullable=False),
    Column("upstream_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    PrimaryKeyConstraint("id"),
)
Index("ix_usage_workspace_id_time", usage.c.workspace_id, usage.c.time)
Index(
    "ix_usage_workspace_id_api_key_id_time", usage.c.workspace_id, usage.c.api_key_id, usage.c.time
)
Index(
    "ix_usage_workspace_id_served_model_time",
    usage.c.workspace_id,
    usage.c.served_model,
    usage.c.time,
)

# Tool-call signatures (``SignatureRecord``): sealed, pruned after a retention period.
tool_signatures = Table(
    "tool_signatures",
    metadata,
    _workspace_fk(),
    Column("call_id", String, nullable=False),
    Column("model", String, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "call_id", "model"),
)
Index("ix_tool_signatures_created_at", tool_signatures.c.created_at)

# Responses API conversation state (``ResponseStateRecord``): sealed, pruned once expired.
response_states = Table(
    "response_states",
    metadata,
    _workspace_fk(),
    Column("response_id", String, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "response_id"),
)
Index("ix_response_states_expires_at", response_states.c.expires_at)

# The audit log (``core.audit``): one hash chain per workspace plus the gateway-level chain.
# Not tied to ``workspaces`` by a foreign key: a workspace's log outlives the workspace (its
# sealed bodies become unreadable with its data key).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String, nullable=False),
    Column("log", String, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("kind", String, nullable=False),
    Column("request_id", String, nullable=True),
    Column("api_key_id", String, nullable=True),
    Column("model", String, nullable=True),
    Column("served_model", String, nullable=True),
    Column("status", Integer, nullable=True),
    Column("end_user", String, nullable=True),
    Column("action", String, nullable=True),
    Column("data", Text, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("prev_hash", String, nullable=False),
    Column("hash", String, nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("log", "seq"),
)
Index("ix_audit_log_log_time", audit_log.c.log, audit_log.c.time)
Index("ix_audit_log_log_api_key_id_time", audit_log.c.log, audit_log.c.api_key_id, audit_log.c.time)
Index("ix_audit_log_log_model_time", audit_log.c.log, audit_log.c.model, audit_log.c.time)

# Quotas, rate limits and budgets (``GovernanceStore``): configuration of a workspace.
# The plan's name stays in ``workspaces.plan``; this row holds the custom plan's quota (NULL:
# unlimited; not read for the named plans) and the workspace's time zone (an IANA name).
workspace_plans = Table(
    "workspace_plans",
    metadata,
    _workspace_fk(),
    Column("monthly_requests", BigInteger, nullable=True),
    Column("timezone", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id"),
)

# One row per workspace ("" api_key_id) or gateway key; NULL: no limit on that axis.
rate_limits = Table(
    "rate_limits",
    metadata,
    _workspace_fk(),
    Column("api_key_id", String, nullable=False),
    Column("requests_per_minute", BigInteger, nullable=True),
    Column("tokens_per_minute", BigInteger, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "api_key_id"),
)

# One row per (workspace, scope, subject): scope workspace (subject ""), key (its id) or user
# (the end-user tag). Caps in pico-dollars, NULL: no cap; thresholds "50,80,100".
budgets = Table(
    "budgets",
    metadata,
    _workspace_fk(),
    Column("scope", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("daily_pico", BigInteger, nullable=True),
    Column("monthly_pico", BigInteger, nullable=True),
    Column("action", String, nullable=False),
    Column("downgrade_to", String, nullable=True),
    Column("thresholds", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "scope", "subject"),
)

# Routing policies (``RoutingPolicyRecord``): ``candidates`` is a JSON array of model ids.
routing_policies = Table(
    "routing_policies",
    metadata,
    _workspace_fk(),
    Column("name", String, nullable=False),
    Column("candidates", Text, nullable=False),
    Column("reference", String, nullable=False),
    Column("quality", Float, nullable=True),
    Column("max_strong_share", Float, nullable=True),
    Column("is_default", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "name"),
)

# Feedback on answers (``FeedbackRecord``): one row per workspace and request id.
routing_feedback = Table(
    "routing_feedback",
    metadata,
    _workspace_fk(),
    Column("request_id", String, nullable=False),
    Column("score", Float, nullable=False),
    Column("thumbs", String, nullable=True),
    Column("label", String, nullable=True),
    Column("policy", String, nullable=True),
    Column("model", String, nullable=True),
    Column("request_time", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "request_id"),
)
Index(
    "ix_routing_feedback_workspace_id_request_time",
    routing_feedback.c.workspace_id,
    routing_feedback.c.request_time,
)
# Feedback names a request by its id: find its usage row without a scan.
Index("ix_usage_workspace_id_request_id", usage.c.workspace_id, usage.c.request_id)

# Resilience settings (``ResiliencePolicyRecord``): fallback chains, timeouts, key weights, each
# a JSON value under (kind, subject).
resilience_policies = Table(
    "resilience_policies",
    metadata,
    _workspace_fk(),
    Column("kind", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "subject"),
)

# Burn-rate alerts (``keyroute.alerts``): channels, rules, each rule's state, the history, and
# the evaluator's lease (one worker evaluates at a time).
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", String, nullable=False),
    _workspace_fk(),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("target", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("secret_nonce", LargeBinary, nullable=True),
    Column("secret_ciphertext", LargeBinary, nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("workspace_id", "name"),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String, nullable=False),
    _workspace_fk(),
    Column("name", String, nullable=False),
    Column("channel_id", String, ForeignKey("alert_channels.id"), nullable=False),
    Column("kind", String, nullable=False),
    Column("params", Text, nullable=False),
    Column("cooldown_seconds", Integer, nullable=False),
    Column("action", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("workspace_id", "name"),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("rule_id", String, ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    _workspace_fk(),
    Column("level", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("since", UtcDateTime, nullable=True),
    Column("notified_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("rule_id"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", String, nullable=False),
    _workspace_fk(),
    Column("time", UtcDateTime, nullable=False),
    Column("rule", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("alert_id", String, nullable=False),
    Column("channel", String, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String, nullable=False),
    Column("detail", Text, nullable=False),
    PrimaryKeyConstraint("id"),
)
Index("ix_alert_events_workspace_id_time", alert_events.c.workspace_id, alert_events.c.time)

leases = Table(
    "leases",
    metadata,
    Column("name", String, nullable=False),
    Column("holder", String, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("name"),
)
