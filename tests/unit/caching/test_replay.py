"""``keyroute.caching.replay``: an answer replayed as events assembles back to itself."""

from __future__ import annotations

import pytest

from keyroute.caching.replay import (
    StreamAssembler,
    decode_answer,
    encode_answer,
    stream_events,
)
from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.response import ChatResponse, Usage
from keyroute.core.stream import StreamStart, TextDelta

ANSWERS = [
    ChatResponse(
        id="a",
        model="m",
        created=1,
        text="hi",
        finish_reason="stop",
        usage=Usage(input_tokens=5, output_tokens=2, cache_read_tokens=1),
    ),
    ChatResponse(
        id="b",
        model="m",
        created=2,
        text=None,
        finish_reason="tool_calls",
        tool_calls=(
            ToolCall(id="c1", name="f", arguments='{"x":1}'),
            ToolCall(id="c2", name="g", arguments="{}", signature="sig"),
        ),
        thinking=(ThinkingPart(text="hmm", signature="s1"),),
    ),
    ChatResponse(
        id="c",
        model="m",
        created=3,
        text="",
        refusal="no",
        finish_reason="refusal",
        stop_sequence=None,
    ),
    ChatResponse(
        id="d",
        model="m",
        created=4,
        text="x",
        finish_reason="stop_sequence",
        stop_sequence="END",
        logprobs={"content": []},
    ),
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_round_trips(answer: ChatResponse) -> None:
    assembler = StreamAssembler()
    for event in stream_events(answer):
        assembler.feed(event)
    rebuilt = assembler.answer()
    expected = answer if answer.text else ChatResponse(**{**_fields(answer), "text": None})
    if answer.logprobs is not None:  # logprobs travel on text deltas, not on the answer
        expected = ChatResponse(**{**_fields(expected), "logprobs": None})
    assert rebuilt == expected
    assert decode_answer(encode_answer(answer)) == answer


def test_a_stream_that_did_not_end_is_no_answer() -> None:
    assembler = StreamAssembler()
    assembler.feed(StreamStart(id="a", model="m", created=1))
    assembler.feed(TextDelta(text="partial"))
    assert assembler.answer() is None


def test_thinking_deltas_join_until_signed() -> None:
    from keyroute.core.stream import StreamEnd, ThinkingDelta

    assembler = StreamAssembler()
    for event in (
        StreamStart(id="a", model="m", created=1),
        ThinkingDelta(text="a"),
        ThinkingDelta(text="b", signature="s"),
        ThinkingDelta(text="c"),
        StreamEnd(finish_reason="stop"),
    ):
        assembler.feed(event)
    answer = assembler.answer()
    assert answer is not None
    assert answer.thinking == (ThinkingPart(text="ab", signature="s"), ThinkingPart(text="c"))


def _fields(answer: ChatResponse) -> dict[str, object]:
    return {f: getattr(answer, f) for f in ChatResponse.__dataclass_fields__}
