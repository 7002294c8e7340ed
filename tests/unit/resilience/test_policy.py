"""``keyroute.resilience.policy``: stored settings -> typed policies, strict on write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.core.timeouts import Timeouts
from keyroute.resilience.policy import (
    FallbackChain,
    ResiliencePolicies,
    TimeoutPolicy,
    parse_weight,
)
from keyroute.storage.base import ResiliencePolicyRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def record(kind: str, subject: str, value: str) -> ResiliencePolicyRecord:
    return ResiliencePolicyRecord(
        workspace_id="w", kind=kind, subject=subject, value=value, updated_at=T0
    )


def test_a_chain_round_trips() -> None:
    chain = FallbackChain.of(["a/b", "next-best"], on_refusal=True)
    assert FallbackChain.parse(chain.dump()) == chain


@pytest.mark.parametrize("models", [[], ["a/b"] * 2, [f"m/{i}" for i in range(9)], ["  "]])
def test_a_bad_chain_is_refused(models: list[str]) -> None:
    with pytest.raises(ValueError, match="chain"):
        FallbackChain.of(models)


@pytest.mark.parametrize(
    "text", ['{"models": "a/b"}', '{"models": ["a/b"], "on_refusal": 1}', "[1]"]
)
def test_a_bad_stored_chain_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        FallbackChain.parse(text)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "at least one"),
        ({"totl": 3}, "unknown timeout 'totl'"),
        ({"total": 0}, "'total'"),
        ({"idle": float("inf")}, "'idle'"),
        ({"connect": True}, "'connect'"),
        ({"connect": "3"}, "'connect'"),
    ],
)
def test_bad_timeouts_are_refused_by_name(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeoutPolicy.of(values)


def test_timeouts_lay_over_in_order_server_workspace_model() -> None:
    policies = ResiliencePolicies.load(
        [
            record("timeouts", "*", TimeoutPolicy.of({"total": 30, "idle": 5}).dump()),
            record("timeouts", "openai/gpt-4o", TimeoutPolicy.of({"idle": 2}).dump()),
        ]
    )
    base = Timeouts(connect=1, first_byte=2, idle=60, total=100)
    assert policies.timeouts_for(base, "openai/gpt-4o") == Timeouts(
        connect=1, first_byte=2, idle=2, total=30
    )
    assert policies.timeouts_for(base, "other/x") == Timeouts(
        connect=1, first_byte=2, idle=5, total=30
    )
    assert ResiliencePolicies().timeouts_for(base, "a/b") is base


def test_chains_are_found_by_requested_id_then_resolved_id_then_every_model() -> None:
    policies = ResiliencePolicies.load(
        [
            record("fallback", "fast", FallbackChain.of(["a/1"]).dump()),
            record("fallback", "openai/gpt-4o", FallbackChain.of(["a/2"]).dump()),
            record("fallback", "*", FallbackChain.of(["a/3"]).dump()),
        ]
    )
    assert policies.chain_for("fast", "openai/gpt-4o") == FallbackChain.of(["a/1"])
    assert policies.chain_for("gpt-4o", "openai/gpt-4o") == FallbackChain.of(["a/2"])
    assert policies.chain_for("x/y") == FallbackChain.of(["a/3"])
    assert ResiliencePolicies().chain_for("x/y") is None


def test_weights_default_to_one_and_unreadable_rows_are_skipped() -> None:
    policies = ResiliencePolicies.load(
        [
            record("key_weight", "pk_1", "3"),
            record("key_weight", "pk_2", "-1"),
            record("fallback", "m", "not json"),
            record("future_kind", "x", "{}"),
        ]
    )
    assert (policies.weight("pk_1"), policies.weight("pk_2"), policies.weight("pk_3")) == (3, 1, 1)
    assert policies.fallbacks == {}


@pytest.mark.parametrize("text", ["true", "1001", "1.5", '"2"'])
def test_bad_weights_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_weight(text)
