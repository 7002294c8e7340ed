"""``keyroute.routing.constraints``: what a request needs, and which models cannot give it."""

from __future__ import annotations

import pytest

from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, ToolSpec
from keyroute.routing.constraints import Needs, unmet

CATALOGUE = builtin()


def request(text: str = "hi", **kw: object) -> ChatRequest:
    message = Message(role="user", content=(TextPart(text=text),))
    return ChatRequest(model="auto", messages=(message,), **kw)  # type: ignore[arg-type]


def test_needs_of_a_request() -> None:
    plain = Needs.of(request())
    assert not (plain.tools or plain.vision or plain.json_schema or plain.json_mode)
    assert Needs.of(request(tools=(ToolSpec(name="f"),))).tools
    image = Message(role="user", content=(ImagePart(url="https://x/y.png"),))
    assert Needs.of(ChatRequest(model="auto", messages=(image,))).vision
    schema = ResponseFormat(type="json_schema", name="x", schema={"type": "object"})
    assert Needs.of(request(response_format=schema)).json_schema
    assert Needs.of(request(response_format=ResponseFormat(type="json_object"))).json_mode
    sized = Needs.of(request("x" * 400, max_tokens=1000))
    assert sized.tokens == 1000 + 100 + 4


@pytest.mark.parametrize(
    ("needs", "model", "code"),
    [
        (Needs(tools=True), "demo/smart", "tools"),
        (Needs(vision=True), "demo/smart", "vision"),
        (Needs(json_schema=True), "demo/smart", "json_schema"),
        (Needs(json_mode=True), "demo/smart", "json_mode"),
        (Needs(tokens=128_001), "openai/gpt-4o", "context_window"),
        (Needs(tokens=128_000), "openai/gpt-4o", None),
        (Needs(tools=True, vision=True, json_schema=True), "openai/gpt-4.1", None),
    ],
)
def test_unmet(needs: Needs, model: str, code: str | None) -> None:
    found = unmet(needs, CATALOGUE.find(model))
    assert (found.code if found else None) == code


def test_an_unknown_model_is_never_ruled_out() -> None:
    assert unmet(Needs(tools=True, vision=True, tokens=10**9), None) is None
