"""``keyroute.plans``: workspace plans and their monthly quotas."""

from __future__ import annotations

import pytest

from keyroute.core.errors import InvalidRequest
from keyroute.plans import DEFAULT_PLAN, PLAN_NAMES, PLANS, Plan, plan


@pytest.mark.parametrize(
    ("name", "quota"),
    [("free", 2_500), ("build", 100_000), ("scale", 500_000), ("business", 5_000_000)],
)
def test_plan(name: str, quota: int) -> None:
    assert plan(name) == Plan(name=name, monthly_requests=quota)


@pytest.mark.parametrize("name", ["", "Free", "enterprise", "free "])
def test_unknown_plan(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        plan(name)
    assert info.value.param == "plan"
    assert "free, build, scale, business, custom" in info.value.message


def test_default_plan_exists() -> None:
    assert plan(DEFAULT_PLAN).name == "free"


def test_quotas_grow_with_the_plan() -> None:
    quotas = [p.monthly_requests for p in PLANS.values()]
    assert quotas == sorted(quotas) and len(set(quotas)) == len(quotas)


def test_custom_is_a_plan_name_but_needs_its_quota() -> None:
    assert PLAN_NAMES == ("free", "build", "scale", "business", "custom")
    with pytest.raises(InvalidRequest) as info:
        plan("custom")
    assert info.value.param == "plan" and "--quota" in info.value.message
