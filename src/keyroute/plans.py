"""Workspace plans and their monthly request quotas (enforced by admission).

The named plans have a fixed quota; ``custom`` takes any number of requests a month, or none
(unlimited, for self-hosters), set with ``keyroute workspace set-plan W custom --quota N``.
"""

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
CUSTOM = "custom"
PLAN_NAMES: tuple[str, ...] = (*PLANS, CUSTOM)


def plan(name: str) -> Plan:
    """A named plan; ``custom`` is refused here, as it needs its quota (``set-plan``)."""
    try:
        return PLANS[name]
    except KeyError:
        if name == CUSTOM:
            raise InvalidRequest(
                "The custom plan needs its quota: create the workspace on a named plan, then "
                "run `keyroute workspace set-plan NAME custom --quota N` (or --quota unlimited).",
                param="plan",
            ) from None
        raise InvalidRequest(
            f"Unknown plan {ascii(name[:40])}. Plans: {', '.join(PLAN_NAMES)}.", param="plan"
        ) from None
