"""``keyroute.core.chat``: ``Message.text`` and ``ChatRequest.system_text``."""

from __future__ import annotations

import dataclasses

import pytest

from keyroute.core.chat import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    Role,
    TextPart,
    ThinkingPart,
    ToolCall,
)

IMAGE = ImagePart(url="https://example.com/a.png")
THINKING = ThinkingPart(text="hmm", signature="sig")
OPAQUE = OpaquePart(source="openai", part_type="input_audio", payload={"data": "AAAA"})


def text(*parts: ContentPart) -> str:
    return Message(role="user", content=parts).text()


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((), ""),
        ((TextPart(text="a"),), "a"),
        ((TextPart(text="a"), TextPart(text="b")), "ab"),
        ((TextPart(text="a "), IMAGE, TextPart(text="b")), "a b"),
        ((THINKING, TextPart(text="answer")), "answer"),
        ((OPAQUE,), ""),
        ((TextPart(text=""), TextPart(text="x")), "x"),
    ],
)
def test_message_text(parts: tuple[ContentPart, ...], expected: str) -> None:
    assert text(*parts) == expected


def msg(role: Role, content: str) -> Message:
    return Message(role=role, content=(TextPart(text=content),))


def system_text(*messages: Message) -> str:
    return ChatRequest(model="openai/x", messages=messages).system_text()


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ((), ""),
        ((msg("user", "hi"),), ""),
        ((msg("system", "be brief"), msg("user", "hi")), "be brief"),
        ((msg("developer", "dev"),), "dev"),
        ((msg("system", "a"), msg("user", "u"), msg("developer", "b")), "a\n\nb"),
        ((msg("assistant", "no"), msg("tool", "no"), msg("system", "yes")), "yes"),
        ((Message(role="system", content=(TextPart(text="x"), TextPart(text="y"))),), "xy"),
    ],
)
def test_system_text(messages: tuple[Message, ...], expected: str) -> None:
    assert system_text(*messages) == expected


def test_defaults() -> None:
    req = ChatRequest(model="openai/x", messages=(msg("user", "hi"),))
    assert req.source_format == "openai"
    assert (req.stream, req.include_usage, req.stop, req.tools, req.passthrough) == (
        False,
        False,
        (),
        (),
        {},
    )
    assert (
        Message(role="assistant", tool_calls=(ToolCall(id="1", name="f", arguments="{}"),)).text()
        == ""
    )


def test_types_are_frozen() -> None:
    part = TextPart(text="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        part.text = "b"  # type: ignore[misc]


def test_the_last_turn_effort_governs_the_answer() -> None:
    from keyroute.core.chat import ChatRequest, Message

    def req(*efforts: str | None) -> ChatRequest:
        turns = tuple(Message(role="user", reasoning_effort=e) for e in efforts)
        return ChatRequest(model="m", messages=turns, reasoning_effort="low")

    assert (req(None).effort(), req("high", None).effort(), req("high", "max").effort()) == (
        "low",
        "high",
        "max",
    )
