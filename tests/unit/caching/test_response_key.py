"""``keyroute.caching.response_key``: when two requests are the same; which are deterministic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keyroute.caching.response_key import deterministic, response_cache_key
from keyroute.core.chat import ChatRequest, Message, TextPart

BASE = ChatRequest(
    model="openai/gpt-4o-mini",
    messages=(Message(role="user", content=(TextPart(text="hello"),)),),
    temperature=0,
)


def key(req: ChatRequest, workspace: str = "ws1") -> str:
    return response_cache_key(workspace, req)


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"stream": True, "include_usage": True}, True),
        ({"source_format": "anthropic", "max_tokens_name": "max_tokens"}, True),
        ({"prompt_cache_key": "kr-1"}, True),
        ({"model": "openai/gpt-4o"}, False),
        ({"temperature": 0.5}, False),
        ({"max_tokens": 10}, False),
        ({"seed": 1}, False),
        ({"passthrough": {"logit_bias": {"1": 2}}}, False),
        ({"messages": (Message(role="user", content=(TextPart(text="hello!"),)),)}, False),
    ],
)
def test_what_changes_the_key(change: dict[str, object], same: bool) -> None:
    assert (key(replace(BASE, **change)) == key(BASE)) is same  # type: ignore[arg-type]


def test_keys_are_per_workspace_and_stable() -> None:
    assert key(BASE, "ws1") != key(BASE, "ws2")
    a = replace(BASE, metadata={"b": "1", "a": "2"}, optional=frozenset({"x", "y", "z"}))
    b = replace(BASE, metadata={"a": "2", "b": "1"}, optional=frozenset({"z", "y", "x"}))
    assert key(a) == key(b)
    assert len(key(BASE)) == 64


@pytest.mark.parametrize(
    ("temperature", "seed", "expected"),
    [
        (0, None, True),
        (0.0, None, True),
        (None, 7, True),
        (0.7, 7, True),
        (0.7, None, False),
        (None, None, False),
    ],
)
def test_deterministic(temperature: float | None, seed: int | None, expected: bool) -> None:
    assert deterministic(replace(BASE, temperature=temperature, seed=seed)) is expected
