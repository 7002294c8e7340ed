"""The limits admission consumes: checked when built, and who counts against what."""

from __future__ import annotations

import pytest

from keyroute.admission.policy import NO_LIMITS, Budget, Limits, PlanQuota, RateLimit


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PlanQuota(monthly_requests=-1), "monthly_requests"),
        (lambda: RateLimit(requests_per_minute=-5), "requests_per_minute"),
        (lambda: RateLimit(scope="key"), "names its key"),
        (lambda: RateLimit(subject="k1"), "no subject"),
        (lambda: RateLimit(scope="user", subject="u"), "not a user"),  # type: ignore[arg-type]
        (lambda: Budget(daily_pico=-1), "daily_pico"),
        (lambda: Budget(action="downgrade"), "needs downgrade_to"),
        (lambda: Budget(downgrade_to="gpt-4o-mini"), "only for action downgrade"),
        (lambda: Budget(action="stop"), "block or downgrade"),  # type: ignore[arg-type]
        (lambda: Budget(thresholds=(80, 50)), "increasing"),
        (lambda: Budget(thresholds=(0, 50)), "increasing"),
        (lambda: Budget(thresholds=(50, 101)), "increasing"),
        (lambda: Limits(timezone="Mars/Olympus"), "unknown time zone"),
        (lambda: Limits(budgets=(Budget(), Budget(daily_pico=1))), "two Budget:workspace"),
        (lambda: Budget(scope="team", subject="x"), "scope must be"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_refused_naming_the_field(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_no_limits_is_unlimited() -> None:
    assert NO_LIMITS.unlimited
    assert not Limits(plan=PlanQuota(name="free", monthly_requests=2500)).unlimited
    assert not Limits(rate_limits=(RateLimit(requests_per_minute=1),)).unlimited
    assert not Limits(budgets=(Budget(daily_pico=1),)).unlimited


def test_who_counts_against_what() -> None:
    workspace = Budget(monthly_pico=10)
    key = Budget(scope="key", subject="k1", daily_pico=5)
    user = Budget(scope="user", subject="alice", daily_pico=1)
    per_key = RateLimit(scope="key", subject="k1", requests_per_minute=3)
    everyone = RateLimit(tokens_per_minute=1000)
    limits = Limits(
        timezone="Europe/Paris", budgets=(workspace, key, user), rate_limits=(per_key, everyone)
    )
    assert limits.budgets_for("k1", "alice") == [workspace, key, user]
    assert limits.budgets_for("k2", "alice") == [workspace, user]
    assert limits.budgets_for("k2", None) == [workspace]
    assert limits.rate_limits_for("k1") == [per_key, everyone]
    assert limits.rate_limits_for("k2") == [everyone]
    assert limits.zoneinfo.key == "Europe/Paris"
