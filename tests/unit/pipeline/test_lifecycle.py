"""``keyroute.pipeline.lifecycle``: one lifecycle for every operation, and the record it fills
(through the in-process demo upstream)."""

from __future__ import annotations

import pytest

from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.errors import ModelNotFound
from keyroute.core.stream import StreamEnd, TextDelta
from keyroute.pipeline import Chat, ChatStream, CountTokens, ListModels
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
    assert ctx.response_headers == [("x-keyroute-max-tokens-lowered", lowered)]
    ctx, meter = harness.context()
    await harness.pipeline.run(ctx, Chat(chat(max_tokens=maximum.max_output_tokens)), meter)
    assert ctx.response_headers == []


async def test_reasoning_settings_for_a_model_that_does_not_reason_are_left_out_and_said(
    harness: Harness,
) -> None:
    entry = builtin().get("demo", "fast")
    assert entry is not None and not entry.capabilities.reasoning
    ctx, meter = harness.context()
    await harness.pipeline.run(ctx, Chat(chat(reasoning_effort="high")), meter)
    assert ctx.response_headers == [("x-keyroute-reasoning-ignored", "model-does-not-reason")]
