"""``keyroute.catalogue.limits``: a request's output limit against the model's maximum."""

from __future__ import annotations

import pytest

from keyroute.catalogue.limits import lower_output_limit, without_reasoning
from keyroute.core.chat import ChatRequest, Message


def req(max_tokens: int | None) -> ChatRequest:
    return ChatRequest(model="m", messages=(Message(role="user"),), max_tokens=max_tokens)


@pytest.mark.parametrize(
    ("asked", "maximum", "sent"),
    [
        (128000, 16384, 16384),
        (16384, 16384, 16384),
        (100, 16384, 100),
        (None, 16384, None),
        (128000, None, 128000),
    ],
)
def test_lower_output_limit(asked: int | None, maximum: int | None, sent: int | None) -> None:
    got = lower_output_limit(req(asked), maximum)
    assert got.max_tokens == sent


def test_a_request_within_the_limit_is_the_same_object() -> None:
    asked = req(100)
    assert lower_output_limit(asked, 200) is asked


def test_without_reasoning_clears_every_reasoning_setting() -> None:
    turn = Message(role="user", reasoning_effort="high")
    asked = ChatRequest(
        model="m",
        messages=(turn, Message(role="user")),
        reasoning_effort="medium",
        thinking="adaptive",
        thinking_display="omitted",
        thinking_budget=None,
    )
    plain = without_reasoning(asked)
    assert plain.effort() is None and [m.reasoning_effort for m in plain.messages] == [None, None]
    assert (plain.thinking, plain.thinking_budget, plain.thinking_display) == (None, None, None)
    assert plain.messages[1] is asked.messages[1]


def test_without_reasoning_keeps_a_request_without_any() -> None:
    asked = req(100)
    assert without_reasoning(asked) is asked
