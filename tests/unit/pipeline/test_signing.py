"""``keyroute.pipeline.signing``: dropped signatures come back only for the model that made them;
produced ones are captured on whole answers and on stream events."""

from __future__ import annotations

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart, ToolCall
from keyroute.core.stream import TextDelta, ToolCallStart
from keyroute.pipeline import Chat
from keyroute.pipeline.signing import Signing
from keyroute.signatures import SignatureCache
from tests.unit.pipeline.test_operations import route

pytestmark = pytest.mark.anyio


def replay(call_id: str = "call_1") -> Chat:
    messages = (
        Message(role="user", content=(TextPart(text="weather?"),)),
        Message(
            role="assistant",
            content=(),
            tool_calls=(ToolCall(id=call_id, name="w", arguments="{}"),),
        ),
        Message(role="tool", content=(TextPart(text="sunny"),), tool_call_id=call_id),
    )
    return Chat(ChatRequest(model="gemini/g", messages=messages))


def signature_of(op: Chat) -> str | None:
    return op.request.messages[1].tool_calls[0].signature


async def test_a_dropped_signature_comes_back_for_its_own_model_only(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    cache = SignatureCache()
    signing = Signing(cache)
    ctx = ctx_factory()
    same, other = route("gemini", "g-pro"), route("gemini", "g-flash")
    signing.capture(ctx, same, (ToolCall(id="call_1", name="w", arguments="{}", signature="sig"),))
    assert signature_of(await signing.prepare(ctx, same, replay())) == "sig"
    assert signature_of(await signing.prepare(ctx, other, replay())) is None


async def test_stream_events_are_captured(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    cache = SignatureCache()
    signing = Signing(cache)
    ctx = ctx_factory()
    target = route("gemini", "g-pro")
    seen = signing.on_event(ctx, target)
    seen(TextDelta(text="x"))
    seen(ToolCallStart(index=0, id="call_1", name="w", signature="s2"))
    assert signature_of(await signing.prepare(ctx, target, replay())) == "s2"


async def test_a_request_without_replayed_calls_is_unchanged(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    op = Chat(
        ChatRequest(model="m", messages=(Message(role="user", content=(TextPart(text="hi"),)),))
    )
    assert await Signing(SignatureCache()).prepare(ctx_factory(), route("gemini"), op) is op
