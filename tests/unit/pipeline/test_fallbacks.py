"""``keyroute.pipeline.fallbacks``: the plan's fallback chain (the request's own, the body's
``models``, the workspace's policy, ``next-best``), balanced keys, workspace timeouts and the
pre-flight fit, through the pipeline and the in-process upstream."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.errors import ContextTooLong, InvalidRequest
from keyroute.core.timeouts import Timeouts
from keyroute.pipeline import Chat, ChatStream
from keyroute.pipeline.fallbacks import take_models
from keyroute.upstream.function import Reply
from tests.fakes.fake_anthropic import transcript_bytes
from tests.unit.pipeline.test_lifecycle import COMPLETION, STREAM, error
from tests.unit.pipeline.test_lifecycle import failover as failover  # a fixture

pytestmark = pytest.mark.anyio

OK = Reply(body=msgspec.json.encode(COMPLETION))
CLAUDE = Reply(body=transcript_bytes("simple", "response.json"))


def chat(model: str = "openai/gpt-4o-mini", text: str = "hello", **extra: Any) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(Message(role="user", content=(TextPart(text=text),)),),
        **extra,
    )


@pytest.mark.parametrize(
    ("passthrough", "expected"),
    [
        (
            {"models": ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]},
            ("anthropic/claude-haiku-4-5",),
        ),
        ({"models": ["anthropic/claude-haiku-4-5", "x/y"]}, ("anthropic/claude-haiku-4-5", "x/y")),
        ({"other": 1}, None),
    ],
)
def test_take_models_reads_and_removes_the_field(passthrough: Any, expected: Any) -> None:
    req, models = take_models(chat(passthrough=passthrough))
    assert models == expected
    assert "models" not in req.passthrough


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ([], "models"),
        ("openai/gpt-4o", "models"),
        (["a/b"] * 7, "models"),
        (["a/b", 3], "models[1]"),
        (["a/b", "bad id"], "models[1]"),
        (["a/b", "a/b"], "models[1]"),
    ],
)
def test_take_models_refuses_a_bad_field_by_name(value: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        take_models(chat(passthrough={"models": value}))
    assert caught.value.param == param


async def test_the_body_models_chain_fails_over_and_never_reaches_the_provider(
    failover: Any,
) -> None:
    pipeline, harness, upstreams, _ = failover
    upstreams.answers = {
        "one.test": [error(404, "no such model")],
        "two.test": [error(404, "no such model")],
        "three.test": [CLAUDE],
    }
    ctx, meter = harness.context()
    req = chat(passthrough={"models": ["anthropic/claude-sonnet-4-5"]})
    result = await pipeline.run(ctx, Chat(req), meter)
    assert result.text and ctx.record.served_model == "anthropic/claude-sonnet-4-5"
    assert ("x-keyroute-fallback-from", "openai/gpt-4o-mini") in ctx.response_headers


async def test_body_models_and_the_header_together_are_refused(failover: Any) -> None:
    pipeline, harness, _, _ = failover
    ctx, meter = harness.context()
    ctx.fallbacks = ("anthropic/claude-sonnet-4-5",)
    with pytest.raises(InvalidRequest) as caught:
        await pipeline.run(ctx, Chat(chat(passthrough={"models": ["a/b"]})), meter)
    assert caught.value.param == "models"


async def test_the_workspace_policy_chain_answers_when_the_request_names_none(
    failover: Any,
) -> None:
    pipeline, harness, upstreams, _ = failover
    await harness.plane.resilience.set_fallback(
        "w", "openai/gpt-4o-mini", ["anthropic/claude-sonnet-4-5"]
    )
    upstreams.answers = {
        "one.test": [error(402)],
        "two.test": [error(402)],
        "three.test": [CLAUDE],
    }
    ctx, meter = harness.context()
    result = await pipeline.run(ctx, Chat(chat()), meter)
    assert result.text and ctx.record.served_model == "anthropic/claude-sonnet-4-5"
    # The request's own chain wins over the policy.
    upstreams.answers = {"one.test": [error(402)], "two.test": [error(402)]}
    ctx, meter = harness.context()
    ctx.fallbacks = ("second/gpt-4o",)
    upstreams.answers["two.test"].append(OK)
    await pipeline.run(ctx, Chat(chat()), meter)
    assert ctx.record.served_model == "second/gpt-4o"


async def test_next_best_picks_a_reachable_model_of_another_provider(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    await harness.plane.resilience.set_fallback("w", "*", ["next-best"])
    upstreams.answers = {"one.test": [error(402)], "two.test": [error(402)], "three.test": [CLAUDE]}
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat()), meter)
    assert ctx.record.served_model.startswith("anthropic/")


async def test_a_refusal_fails_over_only_when_the_policy_says_so(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    body = msgspec.json.decode(transcript_bytes("simple", "response.json"))
    refused = Reply(body=msgspec.json.encode({**body, "stop_reason": "refusal"}))
    model = "anthropic/claude-sonnet-4-5"
    await harness.plane.resilience.set_fallback("w", model, ["openai/gpt-4o-mini"])
    upstreams.answers = {"three.test": [refused]}
    ctx, meter = harness.context()
    result = await pipeline.run(ctx, Chat(chat(model)), meter)
    assert result.finish_reason == "refusal" and upstreams.asked == ["three.test"]
    await harness.plane.resilience.set_fallback("w", model, ["openai/gpt-4o-mini"], on_refusal=True)
    upstreams.answers = {"three.test": [refused], "one.test": [OK]}
    ctx, meter = harness.context()
    result = await pipeline.run(ctx, Chat(chat(model)), meter)
    assert result.text == "hi" and ctx.record.served_model == "openai/gpt-4o-mini"
    assert [a.error_class for a in ctx.record.attempts] == ["failover", None]


async def test_keys_of_one_model_are_balanced_by_weight(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    keys = {k.name: k for k in await harness.plane.list_provider_keys("w")}
    await harness.plane.resilience.set_key_weight("w", "openai", 0)  # a standby
    upstreams.answers = {"two.test": [OK]}
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat()), meter)
    assert upstreams.asked == ["two.test"]
    assert ctx.record.provider_key_id == keys["second"].id


async def test_workspace_and_model_timeouts_reach_the_upstream_request(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    await harness.plane.resilience.set_timeouts("w", None, {"total": 30, "idle": 5})
    await harness.plane.resilience.set_timeouts("w", "openai/gpt-4o-mini", {"first_byte": 2})
    upstreams.answers = {"one.test": [OK, OK]}
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat()), meter)
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat("openai/gpt-4o")), meter)
    model, workspace = (r.timeouts for r in upstreams.requests)
    assert (model.total, model.idle, model.first_byte) == (30.0, 5.0, 2.0)
    assert (workspace.total, workspace.idle) == (30.0, 5.0)
    assert workspace.first_byte == Timeouts().first_byte  # the server's


async def test_a_request_no_candidate_can_hold_is_refused_up_front(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    ctx, meter = harness.context()
    big = "word " * 800_000  # about a million tokens: over gpt-4o-mini's 128k window
    with pytest.raises(ContextTooLong) as caught:
        await pipeline.run(ctx, ChatStream(chat(text=big, stream=True)), meter)
    assert caught.value.status == 400 and caught.value.param == "messages"
    assert "gpt-4o-mini" in caught.value.message
    assert upstreams.asked == []


async def test_a_candidate_too_small_is_skipped_for_one_that_holds_the_request(
    failover: Any,
) -> None:
    pipeline, harness, upstreams, _ = failover
    upstreams.answers = {"two.test": [Reply(body=STREAM)]}
    ctx, meter = harness.context()
    ctx.fallbacks = ("second/gpt-4.1",)  # a million-token window
    big = "word " * 300_000
    events = await pipeline.run(ctx, ChatStream(chat(text=big, stream=True)), meter)
    _ = [e async for e in events]
    await events.aclose()
    assert upstreams.asked == ["two.test"] and ctx.record.served_model == "second/gpt-4.1"


async def test_a_key_its_provider_refuses_is_skipped_afterwards(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    upstreams.answers = {"one.test": [error(401, "bad key")], "two.test": [OK, OK]}
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat()), meter)
    assert upstreams.asked == ["one.test", "two.test"]
    ctx, meter = harness.context()
    await pipeline.run(ctx, Chat(chat()), meter)  # the refused key is not asked again
    assert upstreams.asked == ["one.test", "two.test", "two.test"]
    rows = pipeline.health.snapshot()
    assert any(r["key_rejected_seconds"] for r in rows)


REFUSED_STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"refusal":"I cannot help with that."},"finish_reason":null}]}\n\n'  # noqa: E501
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'  # noqa: E501
    b"data: [DONE]\n\n"
)


async def test_a_streamed_refusal_fails_over_only_when_the_policy_says_so(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    model = "openai/gpt-4o-mini"

    async def texts() -> tuple[str, Any]:
        ctx, meter = harness.context()
        events = await pipeline.run(ctx, ChatStream(chat(model, stream=True)), meter)
        seen = [e async for e in events]
        await events.aclose()
        text = "".join(getattr(e, "text", "") for e in seen if e.kind in ("text", "refusal"))
        return text, ctx.record

    await harness.plane.resilience.set_fallback("w", model, ["second/gpt-4.1"])
    upstreams.answers = {"one.test": [Reply(body=REFUSED_STREAM)]}
    text, _ = await texts()
    assert text == "I cannot help with that." and upstreams.asked == ["one.test"]
    await harness.plane.resilience.set_fallback("w", model, ["second/gpt-4.1"], on_refusal=True)
    upstreams.asked.clear()
    upstreams.answers = {"one.test": [Reply(body=REFUSED_STREAM)], "two.test": [Reply(body=STREAM)]}
    text, record = await texts()
    assert text == "hi" and upstreams.asked == ["one.test", "two.test"]
    assert [a.error_class for a in record.attempts] == ["failover", None]
