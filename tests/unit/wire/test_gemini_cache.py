"""``keyroute.wire.gemini.cache``: the cacheable prefix, the create body, a body through a cache,
and the created ``CachedContent``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, ContextCacheRef, Message, TextPart, ToolSpec
from keyroute.core.errors import UpstreamError
from keyroute.wire.gemini import cache_prefixes, decode_cache, encode_cache_create, encode_request

TOOL = ToolSpec(name="lookup", description="Look it up", parameters={"type": "object"})


def msg(role: Any, text: str) -> Message:
    return Message(role=role, content=(TextPart(text=text),))


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="gemini/gemini-3.5-flash", messages=messages, **kw)


CHAT = req(msg("system", "rules"), msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2"))


def found(r: ChatRequest) -> list[tuple[int, int]]:
    return [(p.messages, p.contents) for p in cache_prefixes(r)]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (CHAT, [(2, 1), (1, 0)]),  # system prompt and first turn, then the system prompt alone
        (req(msg("system", "rules"), msg("user", "q1")), [(1, 0)]),  # nothing after the turn
        (req(msg("user", "q1"), msg("user", "q2"), tools=(TOOL,)), [(1, 1), (0, 0)]),
        (req(msg("user", "q1"), msg("user", "q2")), [(1, 1)]),  # no system prompt, no tools
        (req(msg("user", "q1")), []),
        (req(msg("system", "rules")), []),  # no turn at all: nothing to send
        (req(msg("system", "a"), msg("user", "q"), msg("system", "b"), msg("user", "r")), []),
        (
            req(
                msg("system", "rules"),
                msg("user", "q"),
                msg("user", "r"),
                passthrough={"cachedContent": "cachedContents/mine"},
                source_format="gemini",
            ),
            [],  # the client's own cache
        ),
        (
            req(*CHAT.messages, context_cache=ContextCacheRef(name="cachedContents/x", messages=1)),
            [],  # already sent through a cache
        ),
    ],
)
def test_what_a_cache_can_hold(request_: ChatRequest, expected: list[tuple[int, int]]) -> None:
    assert found(request_) == expected


def test_the_digest_names_the_exact_prefix() -> None:
    longer = req(*CHAT.messages, msg("assistant", "a2"), msg("user", "q3"))
    assert cache_prefixes(CHAT) == cache_prefixes(longer)  # the same leading parts
    other = req(msg("system", "rules!"), *CHAT.messages[1:])
    assert {p.digest for p in cache_prefixes(other)}.isdisjoint(
        p.digest for p in cache_prefixes(CHAT)
    )
    first = req(CHAT.messages[0], msg("user", "other q1"), *CHAT.messages[2:])
    [a_long, a_short] = cache_prefixes(CHAT)
    [b_long, b_short] = cache_prefixes(first)
    assert a_short == b_short and a_long.digest != b_long.digest
    assert a_long.chars > a_short.chars > 0


def test_create_holds_the_prefix_and_a_request_sends_the_rest() -> None:
    r = req(*CHAT.messages, tools=(TOOL,))
    body = encode_request(r)
    longest = cache_prefixes(r)[0]
    created = encode_cache_create(body, longest, "gemini-3.5-flash", 300)
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
