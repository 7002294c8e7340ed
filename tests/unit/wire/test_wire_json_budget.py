"""The JSON value budget: what it counts, what it refuses, what it names, and what it costs."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from keyroute.core.errors import InvalidRequest
from keyroute.wire import json_budget
from keyroute.wire.anthropic import decode_request as decode_messages
from keyroute.wire.openai.embeddings import decode_embeddings_request
from keyroute.wire.openai.request import decode_request as decode_chat
from keyroute.wire.openai_responses import decode_request as decode_responses

TEN_MIB = 10 << 20


def test_values_are_counted_outside_strings_only() -> None:
    assert json_budget.count_values(b'{"a":[1,2,{"b":3}]}', 100) == 6
    assert json_budget.count_values(b'{"a":"x, [y], {z}"}', 100) == 2
    assert json_budget.count_values(b'["a \\" , [", 1]', 100) == 3
    assert json_budget.count_values(b"[[],[]]", 100) == 5  # an upper bound: empties count twice


def test_counting_stops_once_past_the_stop() -> None:
    body = b"[" + b",".join([b'"a"'] * 1000) + b"]"
    assert 10 < json_budget.count_values(body, 10) < 20


def test_a_body_within_budget_passes() -> None:
    json_budget.check(b"[" + b",".join([b"1"] * 99) + b"]", 100)
    json_budget.check(b'{"messages":"' + b"a, [b], {c}; " * 10_000 + b'"}', 100, ("messages",))


def test_a_body_over_budget_names_its_heaviest_field() -> None:
    body = msgspec.json.encode({"model": "m", "messages": [{"role": "user"}] * 100, "tools": []})
    with pytest.raises(InvalidRequest) as caught:
        json_budget.check(body, 100, ("messages", "tools"))
    assert caught.value.param == "messages"
    assert "at most 100" in str(caught.value)


def test_a_body_over_budget_elsewhere_names_no_field() -> None:
    body = msgspec.json.encode({"model": "m", "messages": [], "extra": [[]] * 100})
    with pytest.raises(InvalidRequest) as caught:
        json_budget.check(body, 100, ("messages",))
    assert caught.value.param is None
    assert "more than 100 JSON values" in str(caught.value)


def test_an_invalid_body_over_budget_is_still_refused() -> None:
    with pytest.raises(InvalidRequest):
        json_budget.check(b"[" + b"[]," * 200, 100, ("messages",))


def _one_word_messages(head: bytes, key: bytes, tail: bytes = b"") -> bytes:
    message = b'{"role":"user","content":"a"}'
    count = (TEN_MIB - len(head) - 64) // (len(message) + 1)
    return head + b'"' + key + b'":[' + b",".join([message] * count) + b"]" + tail + b"}"


def _empty_arrays(head: bytes, key: bytes) -> bytes:
    count = (TEN_MIB - len(head) - 64) // 3
    return head + b'"' + key + b'":[' + b",".join([b"[]"] * count) + b"]}"


Decoder = Callable[[bytes], Any]
CHAT_HEAD = b'{"model":"m","messages":[{"role":"user","content":"a"}],'
MESSAGES_HEAD = b'{"model":"m","max_tokens":5,'
HOSTILE: dict[str, tuple[Decoder, bytes, str | None]] = {
    "chat-one-word-messages": (
        decode_chat,
        _one_word_messages(b'{"model":"m",', b"messages"),
        "messages",
    ),
    "chat-empty-arrays": (decode_chat, _empty_arrays(CHAT_HEAD, b"x"), None),
    "messages-one-word-messages": (
        decode_messages,
        _one_word_messages(MESSAGES_HEAD, b"messages"),
        "messages",
    ),
    "messages-empty-arrays": (decode_messages, _empty_arrays(MESSAGES_HEAD, b"tools"), "tools"),
    "responses-one-word-items": (
        decode_responses,
        _one_word_messages(b'{"model":"m",', b"input"),
        "input",
    ),
    "embeddings-empty-lists": (
        decode_embeddings_request,
        _empty_arrays(b'{"model":"m",', b"input"),
        "input",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_10_mib_body_of_tiny_values_is_refused_without_decoding_it(name: str) -> None:
    """10 MiB of tiny values cost 120-250 MB to decode; refused, they cost under 16 MB."""
    decode, body, param = HOSTILE[name]
    assert len(body) <= TEN_MIB
    tracemalloc.start()
    try:
        with pytest.raises(InvalidRequest) as caught:
            decode(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.param == param
    assert peak < 16 << 20, f"decoding raised traced memory by {peak >> 20} MiB"


def test_a_large_conversation_within_budget_is_decoded() -> None:
    turns = [{"role": "user", "content": "a, [b], {c} " * 200}] * 5_000
    req = decode_chat(msgspec.json.encode({"model": "m", "messages": turns}))
    assert len(req.messages) == 5_000
