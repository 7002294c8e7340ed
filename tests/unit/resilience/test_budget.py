"""``keyroute.resilience.budget``: a provider's retries capped at a share of its requests."""

from __future__ import annotations

from keyroute.resilience.budget import BudgetPolicy, RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_retries_stay_under_the_share_of_requests_past_the_floor() -> None:
    clock = Clock()
    budget = RetryBudget(BudgetPolicy(percent=20, min_retries=2, window=10), clock=clock)
    assert [budget.allow_retry("openai") for _ in range(3)] == [True, True, False]  # the floor
    for _ in range(20):
        budget.request("openai")
    assert [budget.allow_retry("openai") for _ in range(3)] == [True, True, False]  # 20 % of 20
    assert budget.allow_retry("anthropic")  # another provider has its own budget
    assert budget.snapshot()[1] == {
        "provider": "openai",
        "requests": 20,
        "retries": 4,
        "window_seconds": 10,
    }


def test_the_window_slides() -> None:
    clock = Clock()
    budget = RetryBudget(BudgetPolicy(percent=0, min_retries=1, window=10), clock=clock)
    assert budget.allow_retry("p") and not budget.allow_retry("p")
    clock.now += 9
    assert not budget.allow_retry("p")
    clock.now += 1
    assert budget.allow_retry("p")
