"""``keyroute.routing.policy``: shipped policies, names, checks, what ``auto`` means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.catalogue import builtin
from keyroute.core.errors import InvalidRequest
from keyroute.routing.policy import (
    SHIPPED,
    check_candidates,
    check_knob,
    check_name,
    check_reference,
    effective_policies,
    implicit_default,
    policy_name,
    routed_models,
)
from keyroute.storage.base import RoutingPolicyRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def record(name: str, default: bool = False) -> RoutingPolicyRecord:
    return RoutingPolicyRecord(
        workspace_id="w",
        name=name,
        candidates=("openai/gpt-4o-mini", "openai/gpt-4o"),
        reference="openai/gpt-4o",
        quality=0.9,
        is_default=default,
        updated_at=T0,
    )


def test_every_shipped_candidate_is_in_the_catalogue_cheapest_first() -> None:
    catalogue = builtin()
    for policy in SHIPPED.values():
        assert policy.reference == policy.candidates[-1]
        entries = [catalogue.find(c) for c in policy.candidates]
        assert all(entries), policy.name
        if policy.name != "cross-provider":
            first, last = entries[0], entries[-1]
            assert first is not None and last is not None
            assert first.prices[-1].output < last.prices[-1].output, policy.name


def test_the_openai_policy_is_a_mini_model_and_its_full_size_sibling() -> None:
    assert SHIPPED["openai"].candidates == ("openai/gpt-4.1-mini", "openai/gpt-4.1")


@pytest.mark.parametrize(
    ("model", "expected"),
    [("auto", ""), ("auto:fast", "fast"), ("openai/gpt-4o", None), ("autonomous", None)],
)
def test_policy_name(model: str, expected: str | None) -> None:
    assert policy_name(model) == expected


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        (["openai"], "openai"),
        (["anthropic", "groq"], "anthropic"),
        (["gemini"], "gemini"),
        (["openai", "anthropic"], "cross-provider"),
        (["demo"], "demo"),
        (["demo", "openai"], "openai"),
        (["groq"], None),
        ([], None),
    ],
)
def test_implicit_default(providers: list[str], expected: str | None) -> None:
    assert implicit_default(providers) == expected


def test_a_workspace_policy_replaces_a_shipped_one_of_the_same_name() -> None:
    policies = effective_policies([record("openai"), record("mine")])
    assert policies["openai"].candidates == ("openai/gpt-4o-mini", "openai/gpt-4o")
    assert not policies["openai"].shipped
    assert policies["anthropic"].shipped
    assert "mine" in policies


@pytest.mark.parametrize("name", ["Bad", "", "-x", "a" * 64, "report", "a b"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_name(name)
    assert info.value.param == "policy"


def test_references_are_provider_prefixed() -> None:
    assert check_reference("gpt-4.1") == "openai/gpt-4.1"
    assert check_reference("anthropic/claude-sonnet-5-5") == "anthropic/claude-sonnet-5-5"
    for bad in ("mystery-model", "nowhere/model", "../x", ""):
        with pytest.raises(InvalidRequest) as info:
            check_reference(bad)
        assert info.value.param == "reference"


@pytest.mark.parametrize(
    ("quality", "share", "expected"),
    [
        (None, None, (0.95, None)),
        (0.8, None, (0.8, None)),
        (1, None, (1.0, None)),
        (None, 0.0, (None, 0.0)),
        (None, 0.3, (None, 0.3)),
    ],
)
def test_knobs(
    quality: float | None, share: float | None, expected: tuple[float | None, float | None]
) -> None:
    assert check_knob(quality, share) == expected


@pytest.mark.parametrize(
    ("quality", "share", "param"),
    [
        (0.0, None, "quality"),
        (1.5, None, "quality"),
        (None, -0.1, "max_strong_share"),
        (None, 1.01, "max_strong_share"),
        (0.9, 0.3, "max_strong_share"),
    ],
)
def test_bad_knobs(quality: float | None, share: float | None, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_knob(quality, share)
    assert info.value.param == param


@pytest.mark.parametrize(
    "candidates",
    [["openai/gpt-4o"], ["a/b", "a/b"], ["auto", "openai/gpt-4o"], ["a/b", "bad id"], ["m"] * 17],
)
def test_bad_candidates(candidates: list[str]) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_candidates(candidates)
    assert info.value.param == "candidates"


def test_routed_models_lists_auto_and_the_usable_policies() -> None:
    listed = routed_models([], ["openai"])
    assert list(listed)[:1] == ["auto"]
    assert "auto:openai" in listed and "auto:cross-provider" in listed
    assert "auto:anthropic" not in listed
    own = routed_models([record("mine", default=True)], ["groq"])
    assert set(own) == {"auto", "auto:mine"}
    assert routed_models([], ["groq"]) == {}
