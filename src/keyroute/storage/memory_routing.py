"""``MemoryRoutingStore``: the reference ``RoutingStore``, dictionaries in one process.

It belongs to a ``MemoryStore``: it asks the store whether a workspace exists, notes policy
writes as configuration changes through the store, and reads requests from the store's usage
rows. Its behaviour is the specification the SQL backend is checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    FeedbackRecord,
    FeedbackTotals,
    RequestSummary,
    RoutingPolicyRecord,
    UsageRow,
)


def _none_first(value: str | None) -> tuple[bool, str]:
    return (value is not None, value or "")


class MemoryRoutingStore:
    def __init__(
        self,
        *,
        exists: Callable[[str], bool],
        changed: Callable[[str], None],
        usage_rows: Callable[[], Iterable[UsageRow]],
    ) -> None:
        self._exists = exists
        self._changed = changed
        self._usage_rows = usage_rows
        self._policies: dict[tuple[str, str], RoutingPolicyRecord] = {}
        self._feedback: dict[tuple[str, str], FeedbackRecord] = {}

    def _require(self, workspace_id: str) -> None:
        if not self._exists(workspace_id):
            raise NotFound(f"workspace {workspace_id!r} does not exist")

    def forget(self, workspace_id: str) -> None:
        """Drop every row of a deleted workspace."""
        for table in (self._policies, self._feedback):
            for key in [k for k in table if k[0] == workspace_id]:
                del table[key]

    async def set_routing_policy(self, record: RoutingPolicyRecord) -> None:
        self._require(record.workspace_id)
        if record.is_default:
            for key, other in list(self._policies.items()):
                if key[0] == record.workspace_id and other.is_default:
                    self._policies[key] = _replace_default(other)
        record = _with_utc(record)
        self._policies[(record.workspace_id, record.name)] = record
        self._changed(record.workspace_id)

    async def list_routing_policies(self, workspace_id: str) -> list[RoutingPolicyRecord]:
        return sorted(
            (p for (ws, _), p in self._policies.items() if ws == workspace_id),
            key=lambda p: p.name,
        )

    async def delete_routing_policy(self, workspace_id: str, name: str) -> bool:
        found = self._policies.pop((workspace_id, name), None) is not None
        if found:
            self._changed(workspace_id)
        return found

    async def find_request(self, workspace_id: str, request_id: str) -> RequestSummary | None:
        best: UsageRow | None = None
        for row in self._usage_rows():
            if row.workspace_id == workspace_id and row.request_id == request_id:
                if best is None or row.time >= best.time:
                    best = row
        if best is None:
            return None
        return RequestSummary(
            workspace_id=workspace_id,
            request_id=request_id,
            time=best.time,
            policy=best.route_policy,
            model=best.served_model if best.served_model is not None else best.requested_model,
        )

    async def put_feedback(self, record: FeedbackRecord) -> None:
        self._require(record.workspace_id)
        self._feedback[(record.workspace_id, record.request_id)] = record

    async def feedback_totals(
        self, workspace_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[FeedbackTotals]:
        groups: dict[tuple[str | None, str | None], FeedbackTotals] = {}
        for (ws, _), f in self._feedback.items():
            if ws != workspace_id:
                continue
            if since is not None and f.request_time < since:
                continue
            if until is not None and f.request_time >= until:
                continue
            key = (f.policy, f.model)
            t = groups.get(key) or FeedbackTotals(policy=f.policy, model=f.model)
            groups[key] = FeedbackTotals(
                policy=f.policy,
                model=f.model,
                count=t.count + 1,
                score_sum=t.score_sum + f.score,
                thumbs_up=t.thumbs_up + (f.thumbs == "up"),
                thumbs_down=t.thumbs_down + (f.thumbs == "down"),
            )
        return [
            groups[k] for k in sorted(groups, key=lambda k: (_none_first(k[0]), _none_first(k[1])))
        ]


def _replace_default(record: RoutingPolicyRecord) -> RoutingPolicyRecord:
    return replace(record, is_default=False)


def _with_utc(record: RoutingPolicyRecord) -> RoutingPolicyRecord:
    if record.updated_at.tzinfo is None:
        raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
    return replace(record, updated_at=record.updated_at.astimezone(UTC))
