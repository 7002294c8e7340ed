"""Routing operations of the control plane: policies (``keyroute routing set|show|list|delete``
and ``/admin/v1/workspaces/{id}/routing...``) and the routing report.

Every change is an admin event in the workspace's audit log (``routing.set``,
``routing.delete``). Policies are checked here once for the CLI and the admin API alike
(``routing.policy``); the request path only reads them from the workspace state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyroute.accounting.usage_report import parse_time
from keyroute.control.audit_log import AuditLog
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.core.money import usd_text
from keyroute.routing.policy import (
    SHIPPED,
    RoutingPolicy,
    check_candidates,
    check_knob,
    check_name,
    check_reference,
    effective_policies,
    implicit_default,
)
from keyroute.routing.report import RoutingReport, RoutingReportResult
from keyroute.storage.base import RoutingPolicyRecord, Store, UsageTotals, WorkspaceRecord

_RATE = Decimal("0.0001")


def policy_view(policy: RoutingPolicy, *, default: bool) -> dict[str, Any]:
    return {
        "name": policy.name,
        "candidates": list(policy.candidates),
        "reference": policy.reference,
        "quality": policy.quality if policy.max_strong_share is None else None,
        "max_strong_share": policy.max_strong_share,
        "default": default,
        "source": "shipped" if policy.shipped else "workspace",
    }


def _record_view(record: RoutingPolicyRecord) -> dict[str, object]:
    return {
        "name": record.name,
        "candidates": ",".join(record.candidates),
        "reference": record.reference,
        "quality": None if record.quality is None else str(record.quality),
        "max_strong_share": None
        if record.max_strong_share is None
        else str(record.max_strong_share),
        "default": str(record.is_default).lower(),
    }


def _money(t: UsageTotals) -> dict[str, Any]:
    rate = None
    if t.reference_pico:
        rate = str(
            (Decimal(t.routing_saving_pico) / Decimal(t.reference_pico)).quantize(
                _RATE, rounding=ROUND_HALF_EVEN
            )
        )
    return {
        "requests": t.requests,
        "failed_requests": t.failed_requests,
        "routed_requests": t.routed_requests,
        "cost_usd": usd_text(t.paid_pico),
        "reference_cost_usd": usd_text(t.reference_pico),
        "routing_saving_usd": usd_text(t.routing_saving_pico),
        "saving_rate": rate,
        "cost_unknown_requests": t.unknown_cost_requests,
    }


def report_document(result: RoutingReportResult) -> dict[str, Any]:
    """The routing report as one JSON document (``--json`` and the admin API)."""
    lines = []
    for line in result.lines:
        f = line.feedback
        lines.append(
            {
                "policy": line.policy,
                "model": line.model,
                **_money(line.totals),
                "feedback": f.count,
                "feedback_mean_score": round(f.score_sum / f.count, 4) if f.count else None,
                "thumbs_up": f.thumbs_up,
                "thumbs_down": f.thumbs_down,
            }
        )
    return {
        "workspace_id": result.workspace_id,
        "since": None if result.since is None else result.since.isoformat(),
        "until": None if result.until is None else result.until.isoformat(),
        "data": lines,
        "days": [
            {"day": d.day.isoformat(), "policy": d.policy, **_money(d.totals)} for d in result.days
        ],
    }


class RoutingControl:
    def __init__(
        self,
        store: Store,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]],
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._audit = audit
        self._clock = clock

    async def set_policy(
        self,
        name_or_id: str,
        *,
        policy: str,
        candidates: Sequence[str],
        reference: str,
        quality: float | None = None,
        max_strong_share: float | None = None,
        default: bool = False,
    ) -> dict[str, Any]:
        workspace = await self._workspace(name_or_id)
        name = check_name(policy)
        models = check_candidates(candidates)
        ref = check_reference(reference)
        q, share = check_knob(quality, max_strong_share)
        records = await self._store.routing.list_routing_policies(workspace.id)
        old = next((r for r in records if r.name == name), None)
        record = RoutingPolicyRecord(
            workspace_id=workspace.id,
            name=name,
            candidates=models,
            reference=ref,
            quality=q,
            max_strong_share=share,
            is_default=default or (old is not None and old.is_default),
            updated_at=self._clock(),
        )
        await self._store.routing.set_routing_policy(record)
        self._audit.emit(
            "routing.set",
            workspace.id,
            target=name,
            old=None if old is None else _record_view(old),
            new=_record_view(record),
        )
        return await self.show_policy(workspace.id, name)

    async def list_policies(self, name_or_id: str) -> list[dict[str, Any]]:
        workspace = await self._workspace(name_or_id)
        records = await self._store.routing.list_routing_policies(workspace.id)
        default = await self._default(workspace.id, records)
        return [
            policy_view(p, default=p.name == default)
            for p in sorted(effective_policies(records).values(), key=lambda p: p.name)
        ]

    async def show_policy(self, name_or_id: str, policy: str | None = None) -> dict[str, Any]:
        """One policy; without a name, the one ``model: "auto"`` uses."""
        workspace = await self._workspace(name_or_id)
        records = await self._store.routing.list_routing_policies(workspace.id)
        default = await self._default(workspace.id, records)
        name = policy if policy is not None else default
        if name is None:
            raise NotFound(
                "This workspace has no default routing policy: it holds no provider key a "
                "shipped policy uses. Set one with `keyroute routing set --default`.",
                param="policy",
            )
        found = effective_policies(records).get(name)
        if found is None:
            raise NotFound(f"No routing policy named '{name}'.", param="policy")
        return policy_view(found, default=name == default)

    async def delete_policy(self, name_or_id: str, policy: str) -> None:
        workspace = await self._workspace(name_or_id)
        if not await self._store.routing.delete_routing_policy(workspace.id, policy):
            if policy in SHIPPED:
                raise InvalidRequest(
                    f"'{policy}' is a shipped policy: it cannot be deleted, only replaced.",
                    param="policy",
                )
            raise NotFound(f"No routing policy named '{policy}'.", param="policy")
        self._audit.emit("routing.delete", workspace.id, target=policy)

    async def report(
        self, name_or_id: str, *, since: str | None = None, until: str | None = None
    ) -> RoutingReportResult:
        workspace = await self._workspace(name_or_id)
        now = self._clock()
        start = None if since is None else parse_time(since, param="since", now=now)
        end = None if until is None else parse_time(until, param="until", now=now)
        if start is not None and end is not None and end <= start:
            raise InvalidRequest("'until' must be later than 'since'.", param="until")
        return await RoutingReport(self._store.usage, self._store.routing).run(
            workspace.id, since=start, until=end
        )

    async def _default(
        self, workspace_id: str, records: Sequence[RoutingPolicyRecord]
    ) -> str | None:
        for record in records:
            if record.is_default:
                return record.name
        keys = await self._store.list_provider_keys(workspace_id)
        return implicit_default(k.provider for k in keys if k.revoked_at is None)
