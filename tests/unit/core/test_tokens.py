"""``keyroute.core.tokens.estimate_tokens``: four characters a token, plus per-message overhead."""

from __future__ import annotations

import pytest

from keyroute.core.chat import (
    ChatRequest,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolSpec,
)
from keyroute.core.tokens import estimate_tokens


def user(*parts: TextPart | ImagePart | ThinkingPart | OpaquePart) -> Message:
    return Message(role="user", content=parts)


def check(messages: tuple[Message, ...], expected: int, tools: tuple[ToolSpec, ...] = ()) -> None:
    assert estimate_tokens(ChatRequest(model="m/x", messages=messages, tools=tools)) == expected


@pytest.mark.parametrize(
    ("messages", "tools", "expected"),
    [
        ((), (), 0),
        ((user(),), (), 4),
        ((user(TextPart(text="a")),), (), 1 + 4),
        ((user(TextPart(text="abcd")),), (), 1 + 4),
        ((user(TextPart(text="abcde")),), (), 2 + 4),
        ((user(TextPart(text="ab")), user(TextPart(text="cd"))), (), 1 + 8),
        ((user(ThinkingPart(text="x" * 8)),), (), 2 + 4),
        ((user(ImagePart(url="https://e/x.png")),), (), 4 + 765),
        ((user(ImagePart(data="AAAA", media_type="image/png")),) * 2, (), 8 + 2 * 765),
        ((user(OpaquePart(source="openai", part_type="file", payload={"a": "b" * 99})),), (), 4),
        (
            (Message(role="assistant", tool_calls=(ToolCall(id="c", name="ab", arguments="{}"),)),),
            (),
            1 + 4,
        ),
        # "f" + "" + '{}' = 3 characters -> 1 token
        ((), (ToolSpec(name="f"),), 1),
        # "fn" + "desc" + '{"type":"object"}' (17) = 23 characters -> 6 tokens
        ((), (ToolSpec(name="fn", description="desc", parameters={"type": "object"}),), 6),
    ],
)
def test_estimate(
    messages: tuple[Message, ...], tools: tuple[ToolSpec, ...], expected: int
) -> None:
    check(messages, expected, tools)


def test_grows_with_text() -> None:
    short = ChatRequest(model="m/x", messages=(user(TextPart(text="a" * 40)),))
    long = ChatRequest(model="m/x", messages=(user(TextPart(text="a" * 400)),))
    assert estimate_tokens(long) - estimate_tokens(short) == 90
