"""Storage protocols and the records they hold.

Every backend (``memory``, ``sqlite``; ``postgres`` later) implements ``Store`` and passes the one
behavioural suite in ``tests/unit/storage``. Records are plain frozen dataclasses; times are
timezone-aware UTC. Secrets are never stored in plaintext: gateway keys as SHA-256 hashes, provider
keys as AES-GCM ciphertext made by ``keyroute.vault``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol, TypeAlias

from keyroute.core.alert_store import AlertStore
from keyroute.core.audit import AuditStore


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceRecord:
    id: str
    name: str
    plan: str
    created_at: datetime
    wrapped_data_key: bytes
    master_key_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """A gateway key. ``key_hash`` is the SHA-256 hex of the full key; ``prefix`` is shown."""

    id: str
    workspace_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    paused_at: datetime | None = None  # refused while paused (``keyroute api-key resume``)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderKeyRecord:
    """A provider key, encrypted with the workspace data key.

    The AAD of ``aad_version`` 2 binds the ciphertext to its workspace, key id, provider and base
    URL; version 1 (rows written by keyroute 0.1, workspace and key id only) is re-sealed by
    ``keyroute migrate``. ``fingerprint`` is a short SHA-256 of the plaintext and ``last4`` its
    last four characters: the only parts of the key ever shown.
    """

    id: str
    workspace_id: str
    provider: str
    name: str
    base_url: str | None
    ciphertext: bytes
    nonce: bytes
    fingerprint: str
    last4: str
    created_at: datetime
    revoked_at: datetime | None = None
    aad_version: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasRecord:
    workspace_id: str
    alias: str
    target: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceOverrideRecord:
    """A workspace's negotiated prices for one provider (``model == ""``) or one model.

    ``discount_percent`` (0 to 100) comes off the list price; ``prices`` (token class ->
    USD per million tokens, the classes of ``keyroute.catalogue.entries.TOKEN_CLASSES``)
    replaces the catalogue's list price for a model. Either may be None (not overridden).
    """

    workspace_id: str
    provider: str
    model: str
    updated_at: datetime
    discount_percent: Decimal | None = None
    prices: Mapping[str, Decimal] | None = None


UsageDimension: TypeAlias = Literal["model", "key", "provider", "user", "policy", "error"]
"""What usage can be grouped by: the served model (the requested one when none served), the
gateway key id, the provider, the end-user tag, the routing policy, the error code."""


@dataclass(slots=True, kw_only=True)
class UsageRow:
    """One request's usage: one row of the usage table per request record.

    Not ``frozen`` by measurement: one is built per request in the background writer, and a
    frozen 34-field dataclass takes three times as long to build. Treat it as immutable.

    Token counts follow ``core.response.Usage`` (cached reads and cache writes are subsets of
    ``input_tokens``, ``cache_write_1h_tokens`` of ``cache_write_tokens``, ``reasoning_tokens``
    of ``output_tokens``). Costs are integer pico-dollars; ``None`` is an unknown price, never 0.
    ``uncached_pico`` and ``reference_pico`` are on the same basis as ``paid_pico`` (after the
    workspace's discount), so the caching and routing savings are differences with it.
    """

    id: str  # unique per row, made by the writer: the idempotency key of ``append``
    request_id: str  # may repeat: a client can send its own ``x-request-id``
    workspace_id: str
    time: datetime  # when the request started, UTC
    api_key_id: str | None = None
    end_user: str | None = None
    endpoint: str
    operation: str | None = None
    inbound_format: str
    requested_model: str | None = None
    served_model: str | None = None
    provider: str | None = None
    provider_key_id: str | None = None
    route_policy: str | None = None
    cache_outcome: str | None = None
    attempts: int = 0
    status: int
    error_code: str | None = None
    stream_outcome: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    usage_estimated: bool = False
    paid_pico: int | None = None
    list_pico: int | None = None
    uncached_pico: int | None = None
    reference_pico: int | None = None
    total_ms: float = 0.0
    upstream_ms: float = 0.0
    ttft_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageQuery:
    """Which rows to total and how to group them.

    ``since`` is inclusive and ``until`` exclusive. With ``bucket_seconds`` the first part of
    every group key is the start of a time bucket of that width (UTC, aligned on the Unix epoch,
    a divisor of a day); ``group_by`` adds one key part per dimension, in order.
    """

    workspace_id: str
    since: datetime | None = None
    until: datetime | None = None
    group_by: tuple[UsageDimension, ...] = ()
    bucket_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.bucket_seconds is not None and (
            self.bucket_seconds <= 0 or 86_400 % self.bucket_seconds
        ):
            raise ValueError(f"a usage bucket divides a day; {self.bucket_seconds} s does not")
        for when in (self.since, self.until):
            if when is not None and when.tzinfo is None:
                raise ValueError("usage queries take timezone-aware times; got a naive one")


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageTotals:
    """Sums over a set of usage rows; costs in pico-dollars, exact.

    A row's cost is known when both its paid and list cost are: ``paid_pico`` and ``list_pico``
    sum the known rows only, and ``unknown_cost_requests`` counts the others, so an unknown
    price is reported, never summed as 0. ``cache_saving_pico`` is the sum of
    ``uncached - paid`` over rows that know both, ``routing_saving_pico`` of ``reference - paid``
    over routed rows (``routed_requests``, the rows with a reference cost and a paid one).
    """

    requests: int = 0
    failed_requests: int = 0  # status 400 and above, or no answer at all
    estimated_requests: int = 0  # some tokens estimated, not reported by the provider
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    paid_pico: int = 0
    list_pico: int = 0
    unknown_cost_requests: int = 0
    cache_saving_pico: int = 0
    routed_requests: int = 0
    reference_pico: int = 0
    routing_saving_pico: int = 0


UsageKey: TypeAlias = tuple[datetime | str | None, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageGroup:
    key: UsageKey  # the bucket start (if asked), then one value per ``group_by`` dimension
    totals: UsageTotals


class UsageStore(Protocol):
    """The usage table: appended in batches by the background writer, read by reports.

    ``append`` is idempotent per row ``id`` (a retried batch never counts a request twice)
    and atomic (all of the batch or nothing). Rows of a workspace that no longer exists are
    skipped: deleting a workspace deletes its usage, and a late row must not bring it back.
    """

    async def append(self, rows: Sequence[UsageRow]) -> int:
        """Store ``rows``; returns how many were new (not already stored, workspace present)."""
        ...

    async def totals(self, query: UsageQuery) -> list[UsageGroup]:
        """Totals per group, in group-key order (``None`` values first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingPolicyRecord:
    """A workspace's routing policy for ``model: "auto:<name>"``.

    ``candidates`` are model ids from the cheapest to the strongest; ``reference`` is the
    ``provider/model`` the workspace would otherwise use (the routing saving is measured
    against it). One quality knob is set: ``quality`` (0 < q <= 1, the share of the strongest
    model's expected quality to keep) or ``max_strong_share`` (0 <= s <= 1). At most one policy
    of a workspace ``is_default`` (what ``model: "auto"`` uses).
    """

    workspace_id: str
    name: str
    candidates: tuple[str, ...]
    reference: str
    quality: float | None = None
    max_strong_share: float | None = None
    is_default: bool = False
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSummary:
    """What feedback needs to know of a request the usage table holds."""

    workspace_id: str
    request_id: str
    time: datetime
    policy: str | None  # the routing policy, for a routed request
    model: str | None  # the served model (the requested one when none served)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecord:
    """A client's verdict on one answer: ``score`` from 0 (bad) to 1 (good); ``thumbs``
    (``up``/``down``) when it was given that way. ``policy``, ``model`` and ``request_time``
    are copied from the request's usage row, so reports group feedback without a join."""

    workspace_id: str
    request_id: str
    score: float
    thumbs: str | None = None
    label: str | None = None
    policy: str | None = None
    model: str | None = None
    request_time: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackTotals:
    """Feedback over one (policy, model) group."""

    policy: str | None
    model: str | None
    count: int = 0
    score_sum: float = 0.0
    thumbs_up: int = 0
    thumbs_down: int = 0


class RoutingStore(Protocol):
    """Routing policies (configuration: every write moves its workspace's revision) and
    feedback on answers (data: no revision moves).

    Listing order: policies by name; feedback totals by policy, then model (``None`` first).
    """

    async def set_routing_policy(self, record: RoutingPolicyRecord) -> None:
        """Insert or replace the policy (workspace, name); when ``is_default``, every other
        policy of the workspace stops being the default, in the same transaction.
        ``NotFound`` if the workspace does not exist."""
        ...

    async def list_routing_policies(self, workspace_id: str) -> list[RoutingPolicyRecord]: ...

    async def delete_routing_policy(self, workspace_id: str, name: str) -> bool: ...

    async def find_request(self, workspace_id: str, request_id: str) -> RequestSummary | None:
        """The workspace's most recent usage row with ``request_id``, if stored."""
        ...

    async def put_feedback(self, record: FeedbackRecord) -> None:
        """Insert or replace the feedback on (workspace, request id). ``NotFound`` if the
        workspace does not exist."""
        ...

    async def feedback_totals(
        self, workspace_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[FeedbackTotals]:
        """Feedback per (policy, model), over requests made in [since, until)."""
        ...


class ChangeFeed(Protocol):
    """Which workspaces' configuration changed, for the request path's in-memory caches.

    A cache entry remembers ``revision(workspace)`` as it was read before loading the entry, and
    is stale when the revision has moved since. A change moves only its own workspace's revision
    (and ``latest``), so one workspace's edit never drops another's caches.

    SQLite polls one small table from a background task (``storage.sqlite_changes``).
    PostgreSQL can implement the same with ``LISTEN``/``NOTIFY`` (the writer's transaction
    notifies ``workspace_id:revision``; ``follow`` listens and notes), Redis with pub/sub on
    a channel per deployment; ``revision`` stays a memory read either way.
    """

    def revision(self, workspace_id: str) -> int:
        """The workspace's revision as last seen (0 if never changed); a memory read, no I/O.

        A change committed through this process's store moves it before the write returns; one
        committed by another process moves it at the feed's next ``refresh``.
        """
        ...

    def latest(self) -> int:
        """The highest revision seen for any change, a workspace's or a setting's."""
        ...

    async def refresh(self) -> None:
        """Learn what other processes committed since the last refresh."""
        ...

    async def follow(self, interval: float) -> None:
        """Refresh every ``interval`` seconds until cancelled: the background task."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureRecord:
    """A tool call's provider signature (Gemini's ``thoughtSignature``), sealed with its
    workspace's data key; the AAD binds workspace, call id and model, so a row moved to another
    workspace, call or model does not decrypt. ``model`` is ``provider/upstream model``."""

    workspace_id: str
    call_id: str
    model: str
    nonce: bytes
    ciphertext: bytes
    created_at: datetime


class SignatureStore(Protocol):
    """Tool-call signatures, so turn 2 of a tool conversation can land on any worker."""

    async def put_signatures(self, records: Sequence[SignatureRecord]) -> int:
        """Store ``records`` in one transaction (a record replaces one with the same workspace,
        call id and model); rows of workspaces that no longer exist are skipped. Returns how
        many were stored."""
        ...

    async def get_signatures(
        self, workspace_id: str, model: str, call_ids: Sequence[str]
    ) -> list[SignatureRecord]:
        """The stored signatures of ``call_ids`` for exactly ``model``, in no set order."""
        ...

    async def prune_signatures(self, before: datetime) -> int:
        """Delete every signature created before ``before``; returns how many."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseStateRecord:
    """A stored Responses API turn (its ``Response`` and the conversation up to it), sealed with
    the workspace's data key; never served after ``expires_at``."""

    workspace_id: str
    response_id: str
    nonce: bytes
    ciphertext: bytes
    created_at: datetime
    expires_at: datetime


class ResponseStateStore(Protocol):
    """Responses API conversation state, so a follow-up turn can land on any worker."""

    async def put_responses(self, records: Sequence[ResponseStateRecord]) -> int:
        """Store ``records`` (replacing the same workspace and id) in one transaction, skipping
        those of workspaces that no longer exist; returns how many were stored."""
        ...

    async def get_response(
        self, workspace_id: str, response_id: str
    ) -> ResponseStateRecord | None: ...

    async def delete_response(self, workspace_id: str, response_id: str) -> bool:
        """Delete one stored turn; ``False`` if there was none."""
        ...

    async def prune_responses(self, now: datetime) -> int:
        """Delete every turn that expired before ``now``; returns how many."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSettingsRecord:
    """A workspace's plan settings beyond the plan's name (``WorkspaceRecord.plan``).

    ``monthly_requests`` is the quota of the ``custom`` plan (``None``: unlimited) and is not
    read for the named plans, whose quota is fixed. ``timezone`` is an IANA name: the calendar
    month of the quota and the day and month of budgets are counted in it.
    """

    workspace_id: str
    monthly_requests: int | None
    timezone: str
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitRecord:
    """Requests and tokens per minute for a workspace (``api_key_id == ""``) or one of its
    gateway keys; ``None`` is no limit on that axis."""

    workspace_id: str
    api_key_id: str
    requests_per_minute: int | None
    tokens_per_minute: int | None
    updated_at: datetime


BudgetScope: TypeAlias = Literal["workspace", "key", "user"]
BudgetAction: TypeAlias = Literal["block", "downgrade"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetRecord:
    """Daily and monthly USD caps in pico-dollars (``None``: no cap for that period) for the
    workspace (``subject == ""``), a gateway key (its id) or an end-user tag (the tag).

    ``action`` is ``block`` or ``downgrade`` (then ``downgrade_to`` names the model);
    ``thresholds`` are the percentages of a cap whose crossing is recorded as an event.
    """

    workspace_id: str
    scope: BudgetScope
    subject: str
    daily_pico: int | None
    monthly_pico: int | None
    action: BudgetAction
    downgrade_to: str | None
    thresholds: tuple[int, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernanceSettings:
    """Everything a workspace has set about quotas, rate limits and budgets, read at once."""

    plan: PlanSettingsRecord | None  # None: never set (the plan's quota, UTC)
    rate_limits: tuple[RateLimitRecord, ...] = ()
    budgets: tuple[BudgetRecord, ...] = ()


_SCOPE_ORDER = {"workspace": 0, "key": 1, "user": 2}


def budget_order(record: BudgetRecord) -> tuple[int, str]:
    """The budgets' listing order, shared by every backend: workspace, key, user; subject."""
    return _SCOPE_ORDER[record.scope], record.subject


class GovernanceStore(Protocol):
    """Plan settings, rate limits and budgets of workspaces: configuration, so every write
    moves the workspace's revision in the change feed (caches reload them), and a write to a
    workspace that does not exist raises ``NotFound``. Listing order: rate limits by key id (the
    workspace's own first), budgets by scope (workspace, key, user), then subject.
    """

    async def set_plan(self, workspace_id: str, plan: str, settings: PlanSettingsRecord) -> None:
        """Set the workspace's plan name and its settings in one transaction."""
        ...

    async def set_rate_limit(self, record: RateLimitRecord) -> None:
        """Insert or replace the rate limit of (workspace, gateway key)."""
        ...

    async def delete_rate_limit(self, workspace_id: str, api_key_id: str) -> bool: ...

    async def set_budget(self, record: BudgetRecord) -> None:
        """Insert or replace the budget of (workspace, scope, subject)."""
        ...

    async def delete_budget(self, workspace_id: str, scope: BudgetScope, subject: str) -> bool: ...

    async def governance(self, workspace_id: str) -> GovernanceSettings:
        """The workspace's plan settings, rate limits and budgets, read consistently."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ResiliencePolicyRecord:
    """One resilience setting of a workspace, stored as JSON text (``keyroute.resilience.policy``
    gives each kind its typed shape and checks it before it is stored).

    ``kind`` is ``fallback`` (``subject``: the model id or alias the chain is for, ``*`` for
    every model), ``timeouts`` (``subject``: a model id, or ``*`` for the workspace) or
    ``key_weight`` (``subject``: a provider key id).
    """

    workspace_id: str
    kind: str
    subject: str
    value: str
    updated_at: datetime


class ResilienceStore(Protocol):
    """Fallback chains, timeouts and key weights per workspace. Every write is a configuration
    change: it moves the workspace's revision, so every worker reloads its ``WorkspaceState``.
    Listing order: kind, then subject."""

    async def set_resilience_policy(self, record: ResiliencePolicyRecord) -> None:
        """Insert or replace (workspace, kind, subject). ``NotFound`` if the workspace does not
        exist."""
        ...

    async def list_resilience_policies(self, workspace_id: str) -> list[ResiliencePolicyRecord]: ...

    async def delete_resilience_policy(self, workspace_id: str, kind: str, subject: str) -> bool:
        """Delete one setting; ``False`` if there was none."""
        ...


def workspace_setting_key(workspace_id: str, key: str) -> str:
    """The ``settings`` key of a workspace's own setting ``key``."""
    return f"workspace:{workspace_id}:{key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CachingSettingsRecord:
    """A workspace's caching settings; the defaults are those of a workspace that set none.

    ``prompt_cache``: ``auto`` lets keyroute place provider prompt-cache markers (Anthropic
    breakpoints, OpenAI ``prompt_cache_key``); ``off`` sends the client's own markers only.
    ``prompt_cache_ttl``: the lifetime of the breakpoints keyroute places (``5m`` or ``1h``).
    ``response_cache``: answer identical deterministic requests from keyroute's own cache, for
    ``response_cache_ttl_seconds``; ``response_cache_nondeterministic`` lets it also serve
    requests whose sampling is not deterministic (temperature above 0 without a seed).
    ``gemini_explicit``: let keyroute create Gemini explicit context caches (``cachedContents``)
    for large prefixes reused often enough to pay for their storage (``caching.explicit``);
    they live ``prompt_cache_ttl``. Off by default: implicit caching needs nothing.
    """

    prompt_cache: Literal["auto", "off"] = "auto"
    prompt_cache_ttl: Literal["5m", "1h"] = "5m"
    response_cache: bool = False
    response_cache_ttl_seconds: int = 300
    response_cache_nondeterministic: bool = False
    gemini_explicit: bool = False


class ResponseCacheStore(Protocol):
    """Answers of the exact response cache, by key (the key names the workspace: see
    ``keyroute.caching.response_key``). Entries may vanish at any time (bounded memory,
    expiry); losing one costs one upstream call. In memory today (one process); Redis is the
    shared implementation to come."""

    async def get(self, key: str, now: float) -> bytes | None:
        """The answer stored under ``key`` unless it expired before ``now`` (epoch seconds)."""
        ...

    async def put(self, key: str, value: bytes, expires_at: float) -> None:
        """Store ``value`` until ``expires_at`` (epoch seconds), replacing any entry."""
        ...


class CachingSettingsStore(Protocol):
    """Per-workspace caching settings; writing them is a configuration change of the workspace
    (the change feed moves, so every process reloads its ``WorkspaceState``)."""

    async def get_caching(self, workspace_id: str) -> CachingSettingsRecord:
        """The workspace's settings (the defaults when it never set any)."""
        ...

    async def put_caching(self, workspace_id: str, record: CachingSettingsRecord) -> None:
        """Replace the workspace's settings. Raises ``NotFound`` for an unknown workspace."""
        ...


class Store(Protocol):
    """Everything keyroute persists. All methods are coroutines.

    Names are unique per scope: workspace names globally, api-key and provider-key names per
    workspace among non-revoked keys, aliases per workspace. A violation raises
    ``keyroute.core.errors.Conflict``. Deleting a workspace deletes every row that belongs to it,
    its wrapped data key included (crypto-shredding).
    """

    @property
    def usage(self) -> UsageStore:
        """The usage table of this database (usable while the store is open)."""
        ...

    @property
    def responses(self) -> ResponseStateStore:
        """The Responses API conversation state of this database."""
        ...

    @property
    def audit(self) -> AuditStore:
        """The audit log of this database (usable while the store is open)."""
        ...

    @property
    def governance(self) -> GovernanceStore:
        """Plan settings, rate limits and budgets of this database."""
        ...

    @property
    def caching(self) -> CachingSettingsStore:
        """Per-workspace caching settings."""
        ...

    @property
    def signatures(self) -> SignatureStore:
        """The tool-call signatures of this database (usable while the store is open)."""
        ...

    @property
    def routing(self) -> RoutingStore:
        """Routing policies and answer feedback of this database."""
        ...

    @property
    def resilience(self) -> ResilienceStore:
        """Fallback chains, timeouts and key weights of this database."""
        ...

    @property
    def alerts(self) -> AlertStore:
        """Alert channels, rules, states and history of this database."""
        ...

    async def open(self) -> None:
        """Connect and check the schema is current (``migrate`` brings it there)."""
        ...

    async def close(self) -> None: ...

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        ...

    @property
    def changes(self) -> ChangeFeed:
        """The feed of configuration changes. Every write but usage bookkeeping
        (``record_api_key_use``) moves the revision of the workspace it changes."""
        ...

    # Workspaces
    async def create_workspace(self, record: WorkspaceRecord) -> None: ...
    async def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None: ...
    async def find_workspace(self, name: str) -> WorkspaceRecord | None: ...
    async def list_workspaces(self) -> list[WorkspaceRecord]: ...
    async def delete_workspace(self, workspace_id: str) -> bool: ...

    async def rewrap_data_keys(
        self, rewrap: Callable[[WorkspaceRecord], Awaitable[tuple[bytes, str]]]
    ) -> int:
        """Replace every workspace's (wrapped_data_key, master_key_id) in one transaction."""
        ...

    # Gateway API keys
    async def create_api_key(self, record: ApiKeyRecord) -> None: ...
    async def list_api_keys(self, workspace_id: str) -> list[ApiKeyRecord]: ...
    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...
    async def revoke_api_key(self, workspace_id: str, key_id: str, at: datetime) -> bool: ...
    async def pause_api_key(self, workspace_id: str, key_id: str, at: datetime | None) -> bool:
        """Pause an active key (``at``) or resume it (``None``); ``False`` if no such active key
        or already in that state. A configuration change: caches drop the key at once."""
        ...

    async def record_api_key_use(self, last_used: Mapping[str, datetime]) -> None:
        """Batch update of last-used times (``id -> time``); never lowers a stored time."""
        ...

    # Provider keys
    async def add_provider_key(self, record: ProviderKeyRecord) -> None: ...
    async def list_provider_keys(self, workspace_id: str) -> list[ProviderKeyRecord]:
        """Active (non-revoked) keys first by creation time; revoked ones are included too."""
        ...

    async def revoke_provider_key(self, workspace_id: str, key_id: str, at: datetime) -> bool: ...
    async def reseal_provider_keys(
        self,
        reseal: Callable[[WorkspaceRecord, ProviderKeyRecord], Awaitable[tuple[bytes, bytes]]],
    ) -> int:
        """Re-seal every provider key whose ``aad_version`` is below 2, in one transaction.

        ``reseal`` returns the new ``(nonce, ciphertext)``; the row then gets ``aad_version`` 2.
        If it raises, nothing changes. Returns how many rows were re-sealed.
        """
        ...

    # Aliases
    async def set_alias(self, record: AliasRecord) -> None: ...
    async def list_aliases(self, workspace_id: str) -> list[AliasRecord]: ...
    async def delete_alias(self, workspace_id: str, alias: str) -> bool: ...

    # Price overrides (one row per workspace, provider and model; model "" = whole provider)
    async def set_price_override(self, record: PriceOverrideRecord) -> None:
        """Insert or replace the row for (workspace, provider, model)."""
        ...

    async def list_price_overrides(self, workspace_id: str) -> list[PriceOverrideRecord]:
        """Ordered by provider, then model (the provider-wide row first)."""
        ...

    async def delete_price_override(self, workspace_id: str, provider: str, model: str) -> bool: ...

    # Settings (admin token hash, instance metadata)
    async def get_setting(self, key: str) -> str | None: ...
    async def set_workspace_setting(self, workspace_id: str, key: str, value: str) -> None:
        """Set a workspace's setting (read with ``get_setting(workspace_setting_key(...))``); a
        configuration change of that workspace, gone with it."""
        ...

    async def set_setting(self, key: str, value: str) -> None: ...
