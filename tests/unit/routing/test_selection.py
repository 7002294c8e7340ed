"""``keyroute.routing.selection.AutoRouter``: policy, hard constraints, score, order, reasons.

The scorer here is a stand-in with a known answer (the prompt's length), so each decision can
be predicted; the shipped scorer is exercised end to end in the integration tests.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.caching.warmth import WarmPrefixes
from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, ImagePart, Message, TextPart, ToolSpec
from keyroute.core.errors import InvalidRequest, NoRouteAvailable, NotFound
from keyroute.core.response import Usage
from keyroute.routing.resolver import ModelResolver
from keyroute.routing.selection import AutoRouter, RouteDecision
from keyroute.storage.base import (
    CachingSettingsRecord,
    ProviderKeyRecord,
    RoutingPolicyRecord,
    WorkspaceRecord,
)
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


# --- more than two candidates: the threshold ladder ------------------------------------------

LADDER = ("openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4o", "openai/gpt-4.1")


def test_four_candidates_split_the_scores_between_them() -> None:
    # quality 0.95: the top rung is 0.95 (a 5 % strong share); the 95 % below are shared evenly
    # between the three cheaper candidates: rungs at shares 0.683 and 0.367, scores 0.317, 0.633.
    st = state(key("openai"), routing=(policy("four", *LADDER, quality=0.95),))
    chosen = {
        chars: router().plan(st, "auto:four", request(chars)) for chars in (100, 400, 700, 960)
    }
    assert [p.decision.model for p in chosen.values()] == list(LADDER)
    assert [p.decision.tier for p in chosen.values()] == ["weak", "middle", "middle", "strong"]
    thresholds = chosen[400].decision.thresholds
    assert thresholds == pytest.approx((0.95 / 3, 2 * 0.95 / 3, 0.95))
    assert chosen[400].decision.threshold == 0.95  # the policy's threshold: the top rung
    header = json.loads(chosen[400].decision.header())
    assert header["thresholds"] == pytest.approx(list(thresholds))
    assert "candidate 2 of 4" in header["reason"]
    # A middle choice falls back upward first (the request needs at least that model).
    assert models(chosen[400].routes) == [LADDER[1], LADDER[2], LADDER[3], LADDER[0]]
    assert models(chosen[960].routes) == [LADDER[3], LADDER[2], LADDER[1], LADDER[0]]


def test_the_strong_share_knob_calibrates_every_rung() -> None:
    # max_strong_share 0.25: the strongest gets scores >= 0.75, the three others 25 % each.
    st = state(key("openai"), routing=(policy("four", *LADDER, max_strong_share=0.25),))
    plan = router().plan(st, "auto:four", request(600))
    assert plan.decision.thresholds == pytest.approx((0.25, 0.5, 0.75))
    assert plan.decision.model == LADDER[2]
    # Two candidates: one threshold, and no ladder in the header.
    two = state(key("openai"), routing=(policy("two", *LADDER[:2], max_strong_share=0.25),))
    decision = router().plan(two, "auto:two", request(600)).decision
    assert decision.thresholds == (0.75,) and "thresholds" not in decision.record()


def test_the_ladder_spans_the_candidates_that_remain() -> None:
    # No Anthropic key: three of the four candidates remain, the ladder has two rungs.
    mixed = ("openai/gpt-4o-mini", "anthropic/claude-haiku-5-5", "openai/gpt-4o", "openai/gpt-4.1")
    st = state(key("openai"), routing=(policy("mixed", *mixed, max_strong_share=0.25),))
    plan = router().plan(st, "auto:mixed", request(500))
    assert plan.decision.thresholds == pytest.approx((0.375, 0.75))
    assert plan.decision.model == "openai/gpt-4o" and plan.decision.tier == "middle"


# --- the prompt cache's say -------------------------------------------------------------------

HAIKU, SONNET = "anthropic/claude-haiku-5-5", "anthropic/claude-sonnet-5-5"


class Warm:
    """An injected warmth state: ``(workspace, provider, model) -> warm tokens``."""

    def __init__(self, warm: dict[tuple[str, str, str], int]) -> None:
        self.warm = warm
        self.asked = 0

    def warm_models(self, workspace_id: str, request: ChatRequest) -> dict[tuple[str, str], int]:
        self.asked += 1
        return {(p, m): t for (w, p, m), t in self.warm.items() if w == workspace_id}

    def warm_tokens(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> int:
        return self.warm.get((workspace_id, provider, model), 0)

    def expected_discount(self, *args: object) -> Decimal:
        return Decimal(0)


def cached_router(warmth: object) -> AutoRouter:
    return AutoRouter(
        resolver=ModelResolver(catalogue=builtin()),
        catalogue=builtin(),
        scorer=LengthScorer,
        warmth=warmth,  # type: ignore[arg-type]
        today=lambda: T0.date(),
    )


def turn(last: int, *, answer: int, prefix: int = 360_000, **kw: object) -> ChatRequest:
    """A later turn: a long system prompt (``prefix`` characters), one earlier answer of
    ``answer`` characters, and a last user turn of ``last`` characters (its score x 1000)."""
    messages = (
        Message(role="system", content=(TextPart(text="s" * prefix),)),
        Message(role="user", content=(TextPart(text="first"),)),
        Message(role="assistant", content=(TextPart(text="a" * answer),)),
        Message(role="user", content=(TextPart(text="x" * last),)),
    )
    return ChatRequest(model="auto", messages=messages, **kw)  # type: ignore[arg-type]


def sonnet_warm(tokens: int = 90_000, workspace: str = "ws_1") -> Warm:
    return Warm({(workspace, "anthropic", "claude-sonnet-5-5"): tokens})


def test_a_conversation_warm_on_the_strong_model_stays_when_moving_saves_nothing_sure() -> None:
    # 90,000 warm tokens on Sonnet 5.5 ($0.10 a million cached) against Haiku 5.5 cold: the
    # whole prompt (90,120 tokens) written at $0.125 a million. Answers of about 100 tokens.
    plan = cached_router(sonnet_warm()).plan(state(key("anthropic")), "auto", turn(10, answer=400))
    decision = plan.decision
    assert decision.model == SONNET and decision.tier == "warm"
    assert models(plan.routes) == [SONNET, HAIKU]
    record = decision.record()
    cache = record["cache"]
    assert isinstance(cache, dict)
    assert cache["outcome"] == "stay" and cache["warm_model"] == SONNET
    assert cache["warm_tokens"] == 90_000
    # Haiku: 90,120 x $0.125 + 100 x $0.50; Sonnet: 90,000 x $0.10, the 120 new tokens written
    # at $2.50, 100 x $10 (per million tokens).
    assert cache["estimated_usd"] == {HAIKU: 0.011315, SONNET: 0.0103}
    assert "warm on anthropic/claude-sonnet-5-5" in decision.reason
    assert decision.reason.startswith("score below the threshold")
    header = json.loads(decision.header())
    assert {"policy", "model", "score", "threshold", "reason"} <= set(header)
    assert header["model"] == SONNET


def test_it_moves_when_the_cheaper_model_wins_for_any_likely_answer_length() -> None:
    # Answers of about 2,000 tokens: Haiku's output price outweighs Sonnet's cache discount.
    plan = cached_router(sonnet_warm()).plan(state(key("anthropic")), "auto", turn(10, answer=8000))
    assert plan.decision.model == HAIKU and plan.decision.tier == "weak"
    assert plan.decision.cache is not None and plan.decision.cache.outcome == "move"
    assert "even after losing the cache discount" in plan.decision.reason


def test_cheaper_at_the_expected_length_alone_is_not_confident_enough() -> None:
    # About 200-token answers: Haiku is cheaper at 200 ($0.01138 against $0.01155) and at 400,
    # but not at 100 ($0.01133 against $0.01055): the conversation stays where it is warm.
    plan = cached_router(sonnet_warm()).plan(state(key("anthropic")), "auto", turn(10, answer=800))
    assert plan.decision.model == SONNET
    assert plan.decision.cache is not None and plan.decision.cache.outcome == "stay"


def test_without_automatic_caching_the_cheap_model_pays_no_cache_write() -> None:
    # prompt_cache off: keyroute places no breakpoints, Haiku's cold prompt costs its input
    # price ($0.10), and it is confidently cheaper than Sonnet's warm prefix.
    off = replace(state(key("anthropic")), caching=CachingSettingsRecord(prompt_cache="off"))
    plan = cached_router(sonnet_warm()).plan(off, "auto", turn(10, answer=400))
    assert plan.decision.model == HAIKU
    assert plan.decision.cache is not None and plan.decision.cache.outcome == "move"


def test_a_hard_turn_leaves_a_weaker_warm_model() -> None:
    warm = Warm({("ws_1", "anthropic", "claude-haiku-5-5"): 90_000})
    plan = cached_router(warm).plan(state(key("anthropic")), "auto", turn(990, answer=400))
    assert plan.decision.model == SONNET and plan.decision.tier == "strong"
    assert plan.decision.cache is not None and plan.decision.cache.outcome == "upgrade"
    assert "needs a stronger model" in plan.decision.reason
    easy = cached_router(warm).plan(state(key("anthropic")), "auto", turn(10, answer=400))
    assert easy.decision.model == HAIKU and easy.decision.tier == "weak"
    assert easy.decision.cache is not None and easy.decision.cache.outcome == "warm"


def test_warmth_never_crosses_workspaces() -> None:
    other = replace(WORKSPACE, id="ws_2")
    st = replace(state(key("anthropic")), workspace=other)
    plan = cached_router(sonnet_warm(workspace="ws_1")).plan(st, "auto", turn(10, answer=400))
    assert plan.decision.model == HAIKU and plan.decision.cache is None
    assert "cache" not in plan.decision.record()


def test_the_real_tracker_warms_from_reported_usage_only_in_its_workspace() -> None:
    tracker = WarmPrefixes(builtin())
    r = cached_router(tracker)
    conversation = turn(10, answer=400)
    anthropic = state(key("anthropic"))
    assert r.plan(anthropic, "auto", conversation).decision.model == HAIKU
    usage = Usage(input_tokens=20, cache_read_tokens=80_000, cache_write_tokens=10_000)
    tracker.note("ws_1", "anthropic", "claude-sonnet-5-5", conversation, usage)
    assert r.plan(anthropic, "auto", conversation).decision.model == SONNET
    st2 = replace(anthropic, workspace=replace(WORKSPACE, id="ws_2"))
    assert r.plan(st2, "auto", conversation).decision.model == HAIKU
    # The provider reports a miss (the cache was evicted): the conversation is cold again.
    tracker.note("ws_1", "anthropic", "claude-sonnet-5-5", conversation, Usage(input_tokens=9))
    assert r.plan(anthropic, "auto", conversation).decision.model == HAIKU


def test_a_cold_conversation_asks_the_tracker_once_and_reads_no_price() -> None:
    warm = Warm({})
    r = AutoRouter(
        resolver=ModelResolver(catalogue=builtin()),
        catalogue=builtin(),
        scorer=LengthScorer,
        warmth=warm,
        today=lambda: pytest.fail("priced a cold conversation"),  # type: ignore[arg-type,return-value]
    )
    plan = r.plan(state(key("anthropic")), "auto", turn(10, answer=400))
    assert plan.decision.cache is None and warm.asked == 1
    # One candidate left: nothing to weigh, the tracker is not asked.
    board = Board(("pk_anthropic", "claude-haiku-5-5"))
    r.plan(state(key("anthropic")), "auto", turn(10, answer=400), circuits=board)
    assert warm.asked == 1
