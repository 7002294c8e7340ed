"""``keyroute.wire.gemini.cache``: the cacheable prefix, the create body, a body through a cache,
and the created ``CachedContent``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, ContextCacheRef, Message, TextPart, ToolSpec
from keyroute.core.errors import UpstreamError
from keyroute.wire.gemini import cache_prefix, decode_cache, encode_cache_create, encode_request

TOOL = ToolSpec(name="lookup", description="Look it up", parameters={"type": "object"})


def msg(role: Any, text: str) -> Message:
    return Message(role=role, content=(TextPart(text=text),))


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="gemini/gemini-3.5-flash", messages=messages, **kw)


CHAT = req(msg("system", "rules"), msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2"))


def prefix(r: ChatRequest, messages: int):  # type: ignore[no-untyped-def]
    return cache_prefix(r, encode_request(r), messages)


@pytest.mark.parametrize(
    ("request_", "messages", "contents"),
    [
        (CHAT, 1, 0),  # the system prompt
        (CHAT, 2, 1),  # and the first turn
        (req(msg("user", "q1"), msg("user", "q2"), tools=(TOOL,)), 0, 0),  # tools alone
    ],
)
def test_a_prefix_counts_its_contents(request_: ChatRequest, messages: int, contents: int) -> None:
    found = prefix(request_, messages)
    assert found is not None and found.contents == contents and found.messages == messages
    assert len(found.digest) == 64 and found.chars > 0


@pytest.mark.parametrize(
    ("request_", "messages"),
    [
        (req(msg("system", "rules"), msg("user", "q1")), 2),  # nothing would be left to send
        (req(msg("user", "q1"), msg("user", "q2")), 0),  # no system prompt and no tools
        (CHAT, 3),  # two turns: a prefix holds at most one
        (req(msg("system", "a"), msg("user", "q"), msg("system", "b"), msg("user", "r")), 1),
        (
            req(
                msg("system", "rules"),
                msg("user", "q"),
                passthrough={"cachedContent": "x"},
                source_format="gemini",
            ),
            1,
        ),  # the client's own cache
    ],
)
def test_what_cannot_be_cached_apart(request_: ChatRequest, messages: int) -> None:
    assert prefix(request_, messages) is None


def test_the_digest_names_the_exact_prefix() -> None:
    longer = req(*CHAT.messages, msg("assistant", "a2"), msg("user", "q3"))
    assert prefix(CHAT, 2) == prefix(longer, 2)  # the same leading part, the same digest
    other = req(msg("system", "rules!"), *CHAT.messages[1:])
    assert prefix(other, 1).digest != prefix(CHAT, 1).digest  # type: ignore[union-attr]


def test_create_holds_the_prefix_and_a_request_sends_the_rest() -> None:
    r = req(*CHAT.messages, tools=(TOOL,))
    body = encode_request(r)
    found = cache_prefix(r, body, 2)
    assert found is not None
    created = encode_cache_create(body, found, "gemini-3.5-flash", 300)
    assert created == {
        "model": "models/gemini-3.5-flash",
        "systemInstruction": body["systemInstruction"],
        "tools": body["tools"],
        "contents": body["contents"][:1],
        "ttl": "300s",
    }
    used = encode_request(
        ChatRequest(
            model=r.model,
            messages=r.messages,
            tools=r.tools,
            temperature=0.5,
            context_cache=ContextCacheRef(name="cachedContents/abc", messages=2),
        )
    )
    assert used["cachedContent"] == "cachedContents/abc"
    assert used["contents"] == body["contents"][1:]
    assert used["generationConfig"] == {"temperature": 0.5}  # what is not cached stays
    assert not {"systemInstruction", "tools", "toolConfig"} & set(used)


def test_decode_cache() -> None:
    raw = (
        b'{"name": "cachedContents/abc", "model": "models/gemini-3.5-flash",'
        b' "expireTime": "2026-12-03T16:00:00.123456Z", "usageMetadata": {"totalTokenCount": 5000}}'
    )
    created = decode_cache(raw)
    assert created.name == "cachedContents/abc" and created.tokens == 5000
    assert created.expire_time == datetime(2026, 12, 3, 16, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"name": "cachedContents/abc"}',
        b'{"name": "other/abc", "expireTime": "2026-12-03T16:00:00Z"}',
        b'{"name": "cachedContents/abc", "expireTime": "tomorrow"}',
        b'{"name": "cachedContents/abc", "expireTime": "2026-12-03T16:00:00"}',
    ],
)
def test_an_unreadable_answer_is_an_upstream_error(raw: bytes) -> None:
    with pytest.raises(UpstreamError):
        decode_cache(raw)
