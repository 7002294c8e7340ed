"""``keyroute.pipeline.lifecycle``: one lifecycle for every operation, and the record it fills
(through the in-process demo upstream)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from keyroute.accounting.pricebook import PriceBook
from keyroute.catalogue import builtin
from keyroute.control.plane import ControlPlane
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import InvalidRequest, ModelNotFound, UpstreamRejected
from keyroute.core.stream import StreamEnd, TextDelta
from keyroute.pipeline import Chat, ChatStream, CountTokens, Embed, ListModels, Pipeline
from keyroute.pipeline.listing import HostedModels
from keyroute.principals import Principal
from keyroute.providers.base import UpstreamRequest
from keyroute.routing.resolver import ModelResolver
from keyroute.signatures import SignatureCache
from keyroute.storage.memory import MemoryStore
from keyroute.tasks import TaskGroup
from keyroute.upstream import UpstreamSender
from keyroute.upstream.function import FunctionTransport, Reply
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key
from keyroute.workspace_state import WorkspaceDirectory
from tests.fakes.fake_anthropic import transcript_bytes
from tests.unit.pipeline.conftest import Harness

pytestmark = pytest.mark.anyio


def chat(model: str = "demo/fast", **extra: object) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(Message(role="user", content=(TextPart(text="hello there"),)),),
        **extra,  # type: ignore[arg-type]
    )


async def test_a_whole_chat_fills_the_record(harness: Harness) -> None:
    ctx, meter = harness.context()
    result = await harness.pipeline.run(ctx, Chat(chat(user="alice")), meter)
    assert result.text and result.text.startswith("[demo]")
    assert result.created > 0
    record = ctx.record
    assert (record.operation, record.requested_model, record.end_user) == (
        "chat",
        "demo/fast",
        "alice",
    )
    assert (record.served_model, record.provider, record.upstream_model) == (
        "demo/fast",
        "demo",
        "fast",
    )
    assert [a.status for a in record.attempts] == [200]
    assert record.usage == result.usage and record.usage is not None
    assert ctx.model_id == "demo/fast"
    meter.finish()
    assert harness.records == [record]
    assert record.cost is not None and record.cost.known  # the catalogue prices the demo


async def test_a_stream_is_metered_as_it_passes(harness: Harness) -> None:
    ctx, meter = harness.context()
    events = await harness.pipeline.run(ctx, ChatStream(chat(stream=True)), meter)
    seen = [event async for event in events]
    await events.aclose()
    assert any(isinstance(e, TextDelta) for e in seen)
    assert isinstance(seen[-1], StreamEnd) or any(isinstance(e, StreamEnd) for e in seen)
    meter.finish()
    record = ctx.record
    assert record.stream and record.stream_outcome == "completed"
    assert record.usage is not None and record.usage.output_tokens > 0
    assert not record.usage_estimated  # the upstream was asked for usage, though the client not
    assert record.ttft_ms is not None


async def test_a_stream_closed_before_its_first_event_is_cancelled(harness: Harness) -> None:
    ctx, meter = harness.context()
    events = await harness.pipeline.run(ctx, ChatStream(chat(stream=True)), meter)
    await events.aclose()
    meter.finish()
    record = ctx.record
    assert record.stream_outcome == "cancelled" and record.usage_estimated
    assert record.usage is not None and record.usage.input_tokens > 0


async def test_count_tokens_without_a_counting_provider_is_a_local_estimate(
    harness: Harness,
) -> None:
    ctx, meter = harness.context()
    count = await harness.pipeline.run(ctx, CountTokens(chat()), meter)
    assert count.exact is False and count.input_tokens > 0
    assert ctx.record.attempts == []  # nothing was sent


async def test_listing_needs_no_route(harness: Harness) -> None:
    ctx, meter = harness.context()
    listing = await harness.pipeline.run(ctx, ListModels(), meter)
    assert listing.models["demo/fast"] == "demo"
    assert ctx.record.operation == "models" and ctx.record.attempts == []


async def test_an_unknown_model_fails_before_anything_is_sent(harness: Harness) -> None:
    ctx, meter = harness.context()
    with pytest.raises(ModelNotFound):
        await harness.pipeline.run(ctx, Chat(chat("nowhere")), meter)
    assert ctx.record.attempts == [] and ctx.record.requested_model == "nowhere"


async def test_an_output_limit_above_the_model_maximum_is_lowered_and_said(
    harness: Harness,
) -> None:
    maximum = builtin().get("demo", "fast")
    assert maximum is not None
    ctx, meter = harness.context()
    await harness.pipeline.run(ctx, Chat(chat(max_tokens=10**9)), meter)
    lowered = f"{10**9} -> {maximum.max_output_tokens}"
    assert ("x-keyroute-max-tokens-lowered", lowered) in ctx.response_headers
    ctx, meter = harness.context()
    await harness.pipeline.run(ctx, Chat(chat(max_tokens=maximum.max_output_tokens)), meter)
    assert ctx.response_headers == [("x-keyroute-attempts", "1"), ("x-keyroute-cache", "miss")]


async def test_reasoning_settings_for_a_model_that_does_not_reason_are_left_out_and_said(
    harness: Harness,
) -> None:
    entry = builtin().get("demo", "fast")
    assert entry is not None and not entry.capabilities.reasoning
    ctx, meter = harness.context()
    await harness.pipeline.run(ctx, Chat(chat(reasoning_effort="high")), meter)
    assert ("x-keyroute-reasoning-ignored", "model-does-not-reason") in ctx.response_headers


# --- attempts: retries and failover through a function transport ------------------------------

COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'  # noqa: E501
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'  # noqa: E501
    b"data: [DONE]\n\n"
)


class Upstreams:
    """Scripted answers per upstream host; what each host was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Reply]] = {}
        self.asked: list[str] = []
        self.requests: list[UpstreamRequest] = []

    def __call__(self, request: UpstreamRequest) -> Reply:
        host = request.url.split("/")[2]
        self.asked.append(host)
        self.requests.append(request)
        return self.answers[host].pop(0)


@pytest.fixture
async def failover() -> AsyncIterator[tuple[Pipeline, Harness, Upstreams, list[float]]]:
    store = MemoryStore()
    vault = KeyVault(store, MasterKeyring.from_env(new_master_key().hex()))
    plane = ControlPlane(store, vault)
    ws = await plane.create_workspace("w")
    for name, host in (("openai", "one.test"), ("second", "two.test")):
        await plane.add_provider_key(
            "w", "openai", "sk-k-0123456789", name=name, base_url=f"http://{host}/v1"
        )
    await plane.add_provider_key(
        "w", "anthropic", "sk-ant-0123456789", base_url="http://three.test"
    )
    upstreams = Upstreams()
    sender = UpstreamSender(mounts={"http://": FunctionTransport(upstreams)})
    directory = WorkspaceDirectory(store, vault)
    resolver = ModelResolver(catalogue=builtin())
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    tasks = TaskGroup()
    pipeline = Pipeline(
        directory=directory,
        resolver=resolver,
        sender=sender,
        signatures=SignatureCache(),
        hosted=HostedModels(directory=directory, resolver=resolver, sender=sender, tasks=tasks),
        sleep=sleep,
        rand=in_order(),
    )
    principal = Principal(workspace_id=ws.id, workspace_name="w", api_key_id="k", api_key_name="n")
    harness = Harness(
        pipeline=pipeline,
        prices=PriceBook(builtin(), store),
        plane=plane,
        principal=principal,
        records=[],
    )
    try:
        yield pipeline, harness, upstreams, slept
    finally:
        await tasks.close()


def in_order() -> Any:
    """Draws that keep equally weighted keys in their stored order: each draw is smaller than
    the one before it."""
    count = itertools.count(1)
    return lambda: 1 / next(count)


def error(status: int, message: str = "boom") -> Reply:
    return Reply(
        status=status, body=msgspec.json.encode({"error": {"message": message, "type": "x"}})
    )


async def test_a_transient_error_moves_to_the_models_other_key(failover: Any) -> None:
    pipeline, harness, upstreams, slept = failover
    upstreams.answers = {
        "one.test": [error(503)],
        "two.test": [Reply(body=msgspec.json.encode(COMPLETION))],
    }
    ctx, meter = harness.context()
    result = await pipeline.run(ctx, Chat(chat("openai/gpt-4o-mini")), meter)
    assert result.text == "hi" and upstreams.asked == ["one.test", "two.test"] and slept == []
    assert [(a.status, a.error_class) for a in ctx.record.attempts] == [(503, "retry"), (200, None)]
    assert ctx.model_id == "openai/gpt-4o-mini"  # the same model: no fallback header
    assert ("x-keyroute-attempts", "2") in ctx.response_headers
    assert not any(name == "x-keyroute-fallback-from" for name, _ in ctx.response_headers)


async def test_a_request_fallback_answers_when_the_model_is_down(failover: Any) -> None:
    pipeline, harness, upstreams, slept = failover
    upstreams.answers = {
        "one.test": [error(401, "bad key")],
        "two.test": [error(401, "bad key")],
        "three.test": [Reply(body=transcript_bytes("simple", "response.json"))],
    }
    ctx, meter = harness.context()
    ctx.fallbacks = ("anthropic/claude-sonnet-4-5",)
    result = await pipeline.run(ctx, Chat(chat("openai/gpt-4o-mini")), meter)
    assert result.text
    assert ctx.record.served_model == "anthropic/claude-sonnet-4-5"
    assert ("x-keyroute-fallback-from", "openai/gpt-4o-mini") in ctx.response_headers
    assert [a.error_class for a in ctx.record.attempts] == ["failover", "failover", None]


async def test_a_stream_that_fails_before_its_first_content_fails_over(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    cut = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    upstreams.answers = {"one.test": [Reply(body=cut)], "two.test": [Reply(body=STREAM)]}
    ctx, meter = harness.context()
    events = await pipeline.run(ctx, ChatStream(chat("openai/gpt-4o-mini", stream=True)), meter)
    seen = [e async for e in events]
    await events.aclose()
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["hi"]
    assert upstreams.asked == ["one.test", "two.test"]


async def test_a_bad_request_is_not_retried(failover: Any) -> None:
    pipeline, harness, upstreams, _ = failover
    upstreams.answers = {"one.test": [error(400, "temperature too high")]}
    ctx, meter = harness.context()
    with pytest.raises(UpstreamRejected):
        await pipeline.run(ctx, Chat(chat("openai/gpt-4o-mini")), meter)
    assert upstreams.asked == ["one.test"]


async def test_auto_is_routed_explained_and_priced_at_the_reference(harness: Harness) -> None:
    for text, served in (("easy", "demo/fast"), ("x" * 600, "demo/smart")):
        ctx, meter = harness.context()
        req = ChatRequest(
            model="auto", messages=(Message(role="user", content=(TextPart(text=text),)),)
        )
        await harness.pipeline.run(ctx, Chat(req), meter)
        meter.finish()
        route = ctx.record.route
        assert route is not None and route["policy"] == "demo" and route["model"] == served
        assert route["scorer"] == "length-test"
        header = dict(ctx.response_headers)["x-keyroute-route"]
        assert msgspec.json.decode(header) == route
        assert ctx.record.served_model == served
        cost = ctx.record.cost
        assert cost is not None and cost.reference_pico is not None and cost.paid_pico
        assert (cost.reference_pico > cost.paid_pico) == (served == "demo/fast")


async def test_auto_is_listed_and_refused_for_embeddings(harness: Harness) -> None:
    ctx, meter = harness.context()
    listing = await harness.pipeline.run(ctx, ListModels(), meter)
    assert "auto" in listing.models and "auto:demo" in listing.models
    ctx, meter = harness.context()
    with pytest.raises(InvalidRequest) as info:
        await harness.pipeline.run(ctx, Embed(EmbeddingRequest(model="auto", inputs=("x",))), meter)
    assert info.value.param == "model"


async def test_an_alert_downgrade_serves_chat_with_the_budget_downgrade_model(
    harness: Harness,
) -> None:
    from datetime import UTC, datetime

    from keyroute.core.alert_store import ALERT_DOWNGRADE_SETTING, AlertDowngrade

    ws = harness.principal.workspace_id
    await harness.plane.governance.set_budget(
        "w", monthly="1000", action="downgrade", downgrade_to="demo/fast"
    )
    switched = AlertDowngrade(rule="r", model="demo/fast", since=datetime.now(UTC))
    await harness.plane.store.set_workspace_setting(ws, ALERT_DOWNGRADE_SETTING, switched.dump())
    ctx, meter = harness.context()
    result = await harness.pipeline.run(ctx, Chat(chat("demo/smart")), meter)
    assert result.text and ctx.model_id == "demo/fast"
    assert ("x-keyroute-downgraded-from", "demo/smart") in ctx.response_headers
    assert (ctx.record.requested_model, ctx.record.served_model) == ("demo/smart", "demo/fast")
    routed, routed_meter = harness.context()  # ``auto`` keeps its candidates up to the model
    await harness.pipeline.run(routed, Chat(chat("auto")), routed_meter)
    assert routed.model_id == "demo/fast"
    assert ("x-keyroute-downgraded-from", "auto") in routed.response_headers
    same, same_meter = harness.context()  # the downgrade model itself: nothing to say
    await harness.pipeline.run(same, Chat(chat("demo/fast")), same_meter)
    assert not any(h == "x-keyroute-downgraded-from" for h, _ in same.response_headers)
    listing, listing_meter = harness.context()  # not a chat: planned as asked
    count = await harness.pipeline.run(listing, CountTokens(chat("demo/smart")), listing_meter)
    assert count.input_tokens > 0 and listing.model_id == "demo/smart"
    await harness.plane.store.set_workspace_setting(ws, ALERT_DOWNGRADE_SETTING, "")
    resumed, resumed_meter = harness.context()
    await harness.pipeline.run(resumed, Chat(chat("demo/smart")), resumed_meter)
    assert resumed.model_id == "demo/smart"
