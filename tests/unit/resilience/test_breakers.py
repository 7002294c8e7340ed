"""``keyroute.resilience.breakers``: open on a failure rate, one probe half-open, close on success;
keys rest after a rate limit. Time is an injected clock."""

from __future__ import annotations

from keyroute.resilience.breakers import BreakerPolicy, HealthBoard

KEY = ("pk_1", "gpt-4o")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def board() -> tuple[HealthBoard, Clock]:
    clock = Clock()
    policy = BreakerPolicy(window=10, min_calls=4, failure_rate=0.5, open_seconds=30.0)
    return HealthBoard(policy, clock=clock), clock


def test_it_opens_at_the_failure_rate_and_probes_once_after_the_cooldown() -> None:
    health, clock = board()
    for ok in (True, False, True):
        health.record(KEY, ok)
    assert health.allow(KEY)  # 1 failure in 3: under min_calls
    health.record(KEY, False)  # 2 of 4 failed: open
    assert not health.allow(KEY)
    assert health.snapshot()[0]["state"] == "open"
    clock.now += 30.0
    assert health.allow(KEY)  # the one probe
    assert not health.allow(KEY)  # nobody else while it probes
    health.record(KEY, False)
    assert not health.allow(KEY)  # open again
    clock.now += 30.0
    assert health.allow(KEY)
    health.record(KEY, True)
    assert health.allow(KEY) and health.allow(KEY)  # closed
    assert health.snapshot()[0]["state"] == "closed"


def test_a_key_rests_for_its_retry_after() -> None:
    health, clock = board()
    health.rest(KEY, 2.0)
    assert not health.allow(KEY) and health.resting(KEY) == 2.0
    clock.now += 2.0
    assert health.allow(KEY) and health.resting(KEY) == 0.0


def test_unknown_targets_are_allowed() -> None:
    health, _ = board()
    assert health.allow(("other", "m")) and health.snapshot() == []


def test_blocked_answers_without_spending_the_probe() -> None:
    health, clock = board()
    assert not health.blocked(KEY)
    for _ in range(4):
        health.record(KEY, False)
    assert health.blocked(KEY) and health.blocked(KEY)
    clock.now += 30.0
    assert not health.blocked(KEY)  # due a probe: the router may choose it
    assert health.allow(KEY)  # and the probe is still there to take
    health.rest(("pk_2", "m"), 5.0)
    assert health.blocked(("pk_2", "m"))


def test_a_refused_key_is_skipped_for_every_model_then_comes_back() -> None:
    clock = [0.0]
    board = HealthBoard(BreakerPolicy(rejected_seconds=60), clock=lambda: clock[0])
    board.reject("pk_1")
    assert not board.allow(("pk_1", "gpt-4o")) and not board.allow(("pk_1", "gpt-4o-mini"))
    assert board.blocked(("pk_1", "gpt-4o")) and board.allow(("pk_2", "gpt-4o"))
    assert board.rejected("pk_1") == 60
    clock[0] = 60.0
    assert board.allow(("pk_1", "gpt-4o")) and board.rejected("pk_1") == 0


def test_with_breakers_off_a_refused_key_is_not_skipped() -> None:
    board = HealthBoard(BreakerPolicy(enabled=False))
    board.reject("pk_1")
    assert board.allow(("pk_1", "m"))
