"""Workspace plans and their monthly request quotas (enforced by the quota stage, next release)."""

from __future__ import annotations

from dataclasses import dataclass

from keyroute.core.errors import InvalidRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    name: str
    monthly_requests: int


PLANS: dict[str, Plan] = {
    p.name: p
    for p in (
        Plan(name="free", monthly_requests=2_500),
        Plan(name="build", monthly_requests=100_000),
        Plan(name="scale", monthly_requests=500_000),
        Plan(name="business", monthly_requests=5_000_000),
    )
}
DEFAULT_PLAN = "free"


def plan(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise InvalidRequest(
            f"Unknown plan '{name}'. Plans: {', '.join(PLANS)}.", param="plan"
        ) from None
