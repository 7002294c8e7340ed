"""``keyroute.routing.selection.AutoRouter``: policy, hard constraints, score, order, reasons.

The scorer here is a stand-in with a known answer (the prompt's length), so each decision can
be predicted; the shipped scorer is exercised end to end in the integration tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, ImagePart, Message, TextPart, ToolSpec
from keyroute.core.errors import InvalidRequest, NoRouteAvailable, NotFound
from keyroute.routing.resolver import ModelResolver
from keyroute.routing.selection import AutoRouter, RouteDecision
from keyroute.storage.base import ProviderKeyRecord, RoutingPolicyRecord, WorkspaceRecord
from keyroute.workspace_state import WorkspaceState

T0 = datetime(2026, 12, 1, tzinfo=UTC)
WORKSPACE = WorkspaceRecord(
    id="ws_1", name="team-a", plan="free", created_at=T0, wrapped_data_key=b"w", master_key_id="m"
)


class LengthScorer:
    """Hardness = prompt length / 1000; thresholds: quality q -> q, share s -> 1 - s."""

    def __init__(self) -> None:
        self.loads = 0

    def score(self, request: ChatRequest) -> float:
        part = request.messages[-1].content[0]
        return len(part.text) / 1000 if isinstance(part, TextPart) else 0.0

    def threshold_for_quality(self, quality: float) -> float:
        return quality

    def threshold_for_strong_share(self, share: float) -> float:
        return float("inf") if share == 0 else 1 - share


def key(provider: str, name: str | None = None) -> ProviderKeyRecord:
    return ProviderKeyRecord(
        id=f"pk_{name or provider}",
        workspace_id="ws_1",
        provider=provider,
        name=name or provider,
        base_url=None,
        ciphertext=b"",
        nonce=b"",
        fingerprint="",
        last4="",
        created_at=T0,
    )


def policy(name: str, *candidates: str, default: bool = False, **kw: object) -> RoutingPolicyRecord:
    return RoutingPolicyRecord(
        workspace_id="ws_1",
        name=name,
        candidates=candidates,
        reference=candidates[-1],
        is_default=default,
        updated_at=T0,
        **kw,  # type: ignore[arg-type]
    )


def state(
    *keys: ProviderKeyRecord, routing: tuple[RoutingPolicyRecord, ...] = ()
) -> WorkspaceState:
    return WorkspaceState(
        workspace=WORKSPACE, provider_keys=list(keys), aliases={}, routing=routing
    )


def request(chars: int, **kw: object) -> ChatRequest:
    message = Message(role="user", content=(TextPart(text="x" * chars),))
    return ChatRequest(model="auto", messages=(message,), **kw)  # type: ignore[arg-type]


class Board:
    def __init__(self, *blocked: tuple[str, str]) -> None:
        self._blocked = set(blocked)

    def blocked(self, key: tuple[str, str]) -> bool:
        return key in self._blocked


def router() -> AutoRouter:
    return AutoRouter(
        resolver=ModelResolver(catalogue=builtin()), catalogue=builtin(), scorer=LengthScorer
    )


def models(plan_routes: list) -> list[str]:  # type: ignore[type-arg]
    return [r.model_id for r in plan_routes]


def test_an_openai_only_workspace_routes_auto_with_the_shipped_openai_policy() -> None:
    st = state(key("openai"))
    easy = router().plan(st, "auto", request(100))
    assert models(easy.routes) == ["openai/gpt-4.1-mini", "openai/gpt-4.1"]
    assert easy.decision.policy == "openai"
    assert easy.decision.tier == "weak" and easy.decision.score == 0.1
    assert easy.decision.threshold == 0.95
    hard = router().plan(st, "auto", request(960))
    assert models(hard.routes) == ["openai/gpt-4.1", "openai/gpt-4.1-mini"]
    assert hard.decision.tier == "strong"
    assert hard.decision.reference == "openai/gpt-4.1"


def test_the_header_is_the_decision_as_json() -> None:
    plan = router().plan(state(key("openai")), "auto", request(100))
    header = json.loads(plan.decision.header())
    assert header == plan.decision.record()
    assert {"policy", "model", "score", "threshold", "reason"} <= set(header)
    assert header["model"] == "openai/gpt-4.1-mini" and header["quality"] == 0.95
    assert plan.decision.header().isascii()


def test_an_unreachable_threshold_is_a_finite_json_number() -> None:
    st = state(
        key("openai"),
        routing=(policy("never", "openai/gpt-4o-mini", "openai/gpt-4o", max_strong_share=0.0),),
    )
    plan = router().plan(st, "auto:never", request(999))
    assert plan.decision.tier == "weak"
    assert json.loads(plan.decision.header())["threshold"] > 1e300


def test_named_and_default_policies() -> None:
    mine = policy("mine", "demo/fast", "demo/smart", default=True, quality=0.5)
    st = state(key("openai"), key("demo"), routing=(mine,))
    assert router().plan(st, "auto", request(600)).decision.policy == "mine"
    assert router().plan(st, "auto", request(600)).routes[0].model_id == "demo/smart"
    assert router().plan(st, "auto:openai", request(600)).decision.policy == "openai"
    with pytest.raises(NotFound) as info:
        router().plan(st, "auto:nope", request(1))
    assert info.value.param == "model"


def test_no_policy_at_all_is_a_400_naming_model() -> None:
    with pytest.raises(InvalidRequest) as info:
        router().plan(state(key("groq")), "auto", request(1))
    assert info.value.param == "model"


def test_cross_provider_keeps_only_the_providers_the_workspace_holds() -> None:
    st = state(key("anthropic"), key("gemini"))
    plan = router().plan(st, "auto", request(10))
    assert plan.decision.policy == "cross-provider"
    assert models(plan.routes) == [
        "anthropic/claude-haiku-5-5",
        "gemini/gemini-3.5-flash",
        "gemini/gemini-3.1-pro-preview",
        "anthropic/claude-sonnet-5-5",
    ]
    excluded = dict(plan.decision.excluded)
    assert excluded == {
        "openai/gpt-4.1-mini": "no_provider_key",
        "openai/gpt-4.1": "no_provider_key",
    }


def test_capabilities_and_context_remove_candidates_first() -> None:
    st = state(
        key("openai"),
        key("demo"),
        routing=(policy("p", "demo/fast", "openai/gpt-4o-mini", "openai/gpt-4o"),),
    )
    tools = router().plan(st, "auto:p", request(10, tools=(ToolSpec(name="f"),)))
    assert models(tools.routes) == ["openai/gpt-4o-mini", "openai/gpt-4o"]
    assert tools.decision.excluded == (("demo/fast", "tools"),)
    image = Message(role="user", content=(ImagePart(url="https://x/y.png"),))
    vision = router().plan(st, "auto:p", ChatRequest(model="auto:p", messages=(image,)))
    assert vision.decision.excluded == (("demo/fast", "vision"),)
    wide = state(key("openai"), routing=(policy("w", "openai/gpt-4o-mini", "openai/gpt-4.1"),))
    long = router().plan(wide, "auto:w", request(10, max_tokens=127_995))
    assert long.decision.excluded == (("openai/gpt-4o-mini", "context_window"),)
    assert models(long.routes) == ["openai/gpt-4.1"] and long.decision.tier == "only"
    fits = router().plan(wide, "auto:w", request(10, max_tokens=127_000))
    assert fits.decision.excluded == () and fits.decision.tier == "weak"


def test_nothing_capable_is_a_400_naming_the_field() -> None:
    st = state(key("demo"))
    with pytest.raises(InvalidRequest) as info:
        router().plan(st, "auto", request(10, tools=(ToolSpec(name="f"),)))
    assert info.value.param == "tools"
    assert "demo/fast (tools)" in info.value.message


def test_open_circuits_remove_a_model_only_when_every_key_is_blocked() -> None:
    st = state(key("openai"), key("openai", "openai-2"))
    board = Board(("pk_openai", "gpt-4.1-mini"))
    plan = router().plan(st, "auto", request(10), circuits=board)
    assert (
        plan.routes[0].model_id == "openai-2/gpt-4.1-mini" or plan.routes[0].key.id == "pk_openai-2"
    )
    both = Board(("pk_openai", "gpt-4.1-mini"), ("pk_openai-2", "gpt-4.1-mini"))
    plan = router().plan(st, "auto", request(10), circuits=both)
    assert plan.routes[0].target.model == "gpt-4.1"
    assert plan.decision.tier == "only"
    assert plan.decision.excluded == (("openai/gpt-4.1-mini", "circuit_open"),)
    everything = Board(*both._blocked, ("pk_openai", "gpt-4.1"), ("pk_openai-2", "gpt-4.1"))
    with pytest.raises(NoRouteAvailable):
        router().plan(st, "auto", request(10), circuits=everything)


def test_a_budget_downgrade_caps_the_candidates() -> None:
    st = state(key("openai"))
    capped = router().plan(st, "auto", request(990), downgrade_to="openai/gpt-4.1-mini")
    assert models(capped.routes) == ["openai/gpt-4.1-mini"]
    assert capped.decision.excluded == (("openai/gpt-4.1", "budget_downgrade"),)
    elsewhere = router().plan(st, "auto", request(990), downgrade_to="openai/gpt-4o-mini")
    assert models(elsewhere.routes) == ["openai/gpt-4o-mini"]
    assert elsewhere.decision.tier == "downgrade"


def test_request_fallbacks_come_last_without_repeats() -> None:
    st = state(key("openai"))
    plan = router().plan(
        st, "auto", request(10), fallbacks=("openai/gpt-4.1", "openai/gpt-4o", "nope/x")
    )
    assert models(plan.routes) == ["openai/gpt-4.1-mini", "openai/gpt-4.1", "openai/gpt-4o"]


def test_the_scorer_is_loaded_once_and_thresholds_cached() -> None:
    loads: list[LengthScorer] = []

    def load() -> LengthScorer:
        loads.append(LengthScorer())
        return loads[-1]

    r = AutoRouter(resolver=ModelResolver(catalogue=builtin()), catalogue=builtin(), scorer=load)
    st = state(key("openai"))
    for _ in range(3):
        r.plan(st, "auto", request(10))
    assert len(loads) == 1


def test_decision_record_lists_exclusions() -> None:
    decision = RouteDecision(
        policy="p",
        model="m",
        score=0.5,
        threshold=float("-inf"),
        tier="strong",
        reason="r",
        reference="a/b",
        knob=("max_strong_share", 1.0),
        excluded=(("x/y", "tools"),),
    )
    assert decision.record()["excluded"] == [{"model": "x/y", "reason": "tools"}]
    threshold = decision.record()["threshold"]
    assert isinstance(threshold, float) and threshold < -1e300
    assert decision.record()["max_strong_share"] == 1.0
