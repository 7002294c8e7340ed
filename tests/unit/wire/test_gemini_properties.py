"""Property tests of ``encode_request``: random canonical conversations -> body invariants."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.core.chat import ChatRequest, Message, Role, TextPart, ToolCall, ToolSpec
from keyroute.wire.gemini import encode_request

texts = st.text(min_size=0, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
tool_contents = texts | json_values.map(json.dumps)
ROLES: list[Role] = ["system", "developer", "user", "assistant", "tool"]
signatures = st.none() | st.text(alphabet="ABCDEFabcdef0123456789+/=", min_size=1, max_size=40)


@st.composite
def conversations(draw: st.DrawFn) -> ChatRequest:
    """A valid canonical conversation: tool results answer earlier calls; a user turn exists."""
    messages: list[Message] = []
    calls: list[str] = []
    for _ in range(draw(st.integers(0, 10))):
        role: Role = draw(st.sampled_from(ROLES))
        if role == "tool" and calls:
            call_id = draw(st.sampled_from(calls))
            content = draw(tool_contents)
            is_error = draw(st.booleans())
            messages.append(
                Message(
                    role="tool",
                    tool_call_id=call_id,
                    content=(TextPart(text=content),),
                    is_error=is_error,
                )
            )
        elif role == "assistant":
            new_calls: list[ToolCall] = []
            for _ in range(draw(st.integers(0, 3))):
                call_id = f"call_{len(calls) + len(new_calls)}"
                arguments = json.dumps(
                    draw(st.dictionaries(st.text(max_size=5), json_values, max_size=3))
                )
                new_calls.append(
                    ToolCall(id=call_id, name="f", arguments=arguments, signature=draw(signatures))
                )
            text = draw(st.text(min_size=0 if new_calls else 1, max_size=20))
            messages.append(
                Message(
                    role="assistant", content=(TextPart(text=text),), tool_calls=tuple(new_calls)
                )
            )
            calls.extend(c.id for c in new_calls)
        elif role == "system" or role == "developer":
            parts = draw(st.lists(texts, max_size=3))
            messages.append(Message(role=role, content=tuple(TextPart(text=t) for t in parts)))
        else:
            messages.append(
                Message(
                    role="user", content=(TextPart(text=draw(st.text(min_size=1, max_size=20))),)
                )
            )
    messages.append(Message(role="user", content=(TextPart(text="last"),)))
    return ChatRequest(model="gemini/x", messages=tuple(messages), tools=(ToolSpec(name="f"),))


def all_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for content in body["contents"] for part in content["parts"]]


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_roles_are_only_user_and_model(req):
    body = encode_request(req)
    assert {c["role"] for c in body["contents"]} <= {"user", "model"}
    assert all(c["parts"] for c in body["contents"])


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_every_function_response_is_an_object_with_the_calls_name(req):
    body = encode_request(req)
    responses = [p["functionResponse"] for p in all_parts(body) if "functionResponse" in p]
    assert len(responses) == sum(1 for m in req.messages if m.role == "tool")
    for response in responses:
        assert isinstance(response["response"], dict)
        assert response["name"] == "f"
    for content in body["contents"]:
        if any("functionResponse" in p for p in content["parts"]):
            assert content["role"] == "user"
            assert all("functionResponse" in p for p in content["parts"])


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_system_text_is_preserved_in_order(req):
    body = encode_request(req)
    expected = [
        p.text
        for m in req.messages
        if m.role in ("system", "developer")
        for p in m.content
        if isinstance(p, TextPart) and p.text
    ]
    got = [p["text"] for p in body.get("systemInstruction", {"parts": []})["parts"]]
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_calls_and_signatures_survive_verbatim(req):
    body = encode_request(req)
    sent = [
        (p["functionCall"]["id"], p.get("thoughtSignature"))
        for p in all_parts(body)
        if "functionCall" in p
    ]
    asked = [(c.id, c.signature) for m in req.messages for c in m.tool_calls]
    assert sent == asked
    for part in all_parts(body):
        if "functionCall" in part:
            assert isinstance(part["functionCall"]["args"], dict)


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_body_is_json_serialisable(req):
    body = encode_request(req)
    assert json.loads(json.dumps(body)) == body
