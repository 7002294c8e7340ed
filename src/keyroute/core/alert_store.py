"""Alert channels, rules, rule states and history: the records and the ``AlertStore`` protocol.

They live in ``core`` (like the audit log's ``AuditStore``) so the storage protocols module stays
small; ``storage`` implements the protocol (memory, SQLite) and ``alerts`` uses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeAlias

AlertChannelKind: TypeAlias = Literal["webhook", "slack", "email"]
AlertRuleKind: TypeAlias = Literal[
    "burn_rate", "anomaly", "budget_threshold", "projection", "error_rate", "request_rate"
]
AlertAction: TypeAlias = Literal["notify", "pause-key", "downgrade"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChannelRecord:
    """Where a workspace's alerts go: a webhook URL, a Slack incoming-webhook URL or an email
    address. A webhook's signing secret is sealed with the workspace's data key (the vault's
    ``seal_channel_secret``), never stored in plaintext."""

    id: str
    workspace_id: str
    name: str
    kind: AlertChannelKind
    target: str
    created_at: datetime
    secret_nonce: bytes | None = None
    secret_ciphertext: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRuleRecord:
    """A workspace's alert rule; ``params`` holds the kind's settings as text (``Decimal``s as
    strings, durations in seconds), checked by ``keyroute.alerts.rules`` when read."""

    id: str
    workspace_id: str
    name: str
    channel_id: str
    kind: AlertRuleKind
    params: Mapping[str, str]
    cooldown_seconds: int
    action: AlertAction
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertStateRecord:
    """Where a rule stands: ``level`` 0 (quiet), 1 (firing) or 2 (escalated). ``version`` moves
    with every transition: a transition is claimed with ``claim_alert_transition`` against the
    version read, so of several workers only one notifies."""

    rule_id: str
    workspace_id: str
    level: int
    version: int
    since: datetime | None = None  # when the current firing started
    notified_at: datetime | None = None  # the last notification of this firing


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEventRecord:
    """One line of a workspace's alert history: a firing, an escalation, a resolution, an
    action taken, or one delivery attempt and its outcome."""

    id: str
    workspace_id: str
    time: datetime
    rule: str  # the rule's name (kept if the rule is removed later)
    kind: Literal["firing", "escalated", "resolved", "test", "delivery", "action"]
    alert_id: str  # the firing this line belongs to
    channel: str | None = None
    attempt: int = 0
    outcome: str = ""  # ``delivered``, ``failed``, ``gave-up``, ``paused-key``...
    detail: str = ""  # JSON: the alert's values, or the delivery's status and error


ALERT_DOWNGRADE_SETTING = "alert_downgrade"
"""The workspace setting that says an alert's ``downgrade`` action is in force (empty: none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertDowngrade:
    """An alert rule's ``downgrade`` action in force for a workspace: until ``keyroute alerts
    resume``, every chat request of the workspace is served by its budget downgrade model
    (``model`` is the one named when the action ran, shown to people; the request path serves
    the workspace budget's current one). Stored as a workspace setting, so it is a configuration
    change: every worker reloads the workspace's state and sees it."""

    rule: str
    model: str
    since: datetime
    reason: str = ""

    def dump(self) -> str:
        return json.dumps(
            {
                "rule": self.rule,
                "model": self.model,
                "since": self.since.isoformat(),
                "reason": self.reason,
            },
            sort_keys=True,
        )

    @classmethod
    def parse(cls, text: str | None) -> AlertDowngrade | None:
        """The stored setting; ``None`` when none is in force (no setting, or an empty one)."""
        if not text:
            return None
        raw = json.loads(text)
        return cls(
            rule=str(raw["rule"]),
            model=str(raw["model"]),
            since=datetime.fromisoformat(raw["since"]),
            reason=str(raw.get("reason", "")),
        )


class AlertStore(Protocol):
    """Alert channels, rules, rule states, history and the evaluator's lease.

    Channel and rule names are unique per workspace (``Conflict`` otherwise); removing a channel
    that a rule uses is a ``Conflict``. Rows go with their workspace. None of these writes is a
    configuration change: the request path's caches stay.
    """

    async def add_alert_channel(self, record: AlertChannelRecord) -> None:
        """Store a channel (``Conflict`` on its name, ``NotFound`` without its workspace)."""

    async def list_alert_channels(self, workspace_id: str) -> list[AlertChannelRecord]:
        """A workspace's channels by name."""

    async def delete_alert_channel(self, workspace_id: str, name: str) -> bool:
        """Remove a channel (``Conflict`` while a rule uses it); ``False`` if there was none."""

    async def add_alert_rule(self, record: AlertRuleRecord) -> None:
        """Store a rule (``Conflict`` on its name)."""

    async def list_alert_rules(self, workspace_id: str | None = None) -> list[AlertRuleRecord]:
        """One workspace's rules by name, or every workspace's (``None``)."""

    async def delete_alert_rule(self, workspace_id: str, name: str) -> bool:
        """Remove a rule and its state; ``False`` if there was none."""

    async def alert_states(self, workspace_id: str) -> dict[str, AlertStateRecord]:
        """Rule id -> state; a rule that never fired has none (level 0, version 0)."""

    async def claim_alert_transition(self, state: AlertStateRecord) -> bool:
        """Store ``state`` if the stored version is ``state.version - 1`` (none counts as 0);
        ``False`` when another worker moved first."""

    async def append_alert_events(self, records: Sequence[AlertEventRecord]) -> None:
        """Append history lines (those of workspaces that no longer exist are skipped)."""

    async def list_alert_events(
        self, workspace_id: str, *, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEventRecord]:
        """The newest ``limit`` events at or after ``since``, oldest first."""

    async def claim_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; ``False`` while
        another holder's lease is unexpired."""
