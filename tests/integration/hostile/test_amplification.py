"""10 MiB bodies of tiny JSON values against ``keyroute serve``: each is a 400 naming the field
(in the caller's format), reaches no upstream, and raises the gateway's peak memory by less
than the 50 MB a single hostile input may cost (decoded, they cost 120-250 MB)."""

from __future__ import annotations

import pytest

from tests.integration.hostile.conftest import (
    ServedGateway,
    Upstreams,
    build_request,
    exchange,
)

pytestmark = pytest.mark.integration

TEN_MIB = 10 << 20
MESSAGE = b'{"role":"user","content":"a"}'


def fill(head: bytes, item: bytes, tail: bytes = b"]}") -> bytes:
    count = (TEN_MIB - len(head) - len(tail)) // (len(item) + 1)
    return head + b",".join([item] * count) + tail


CHAT = b'{"model":"openai/gpt-4o-mini","messages":['
CLAUDE = b'{"model":"anthropic/claude-sonnet-4-5","max_tokens":5,"messages":['
ONE = b'{"role":"user","content":"a"}],'
CASES: dict[str, tuple[str, bytes, str | None]] = {
    "chat/one-word-messages": ("/v1/chat/completions", fill(CHAT, MESSAGE), "messages"),
    "chat/empty-arrays-in-an-unknown-field": (
        "/v1/chat/completions",
        fill(CHAT + ONE + b'"x":[', b"[]"),
        None,
    ),
    "chat/tiny-strings-in-tools": (
        "/v1/chat/completions",
        fill(CHAT + ONE + b'"tools":[', b'"a"'),
        "tools",
    ),
    "messages/one-word-messages": ("/v1/messages", fill(CLAUDE, MESSAGE), "messages"),
    "messages/text-blocks": (
        "/v1/messages",
        fill(CLAUDE + b'{"role":"user","content":[', b'{"type":"text","text":"a"}', b"]}]}"),
        "messages",
    ),
    "count_tokens/empty-arrays": (
        "/v1/messages/count_tokens",
        fill(CLAUDE + ONE + b'"system":[', b"[]"),
        "system",
    ),
    "responses/one-word-items": (
        "/v1/responses",
        fill(b'{"model":"openai/gpt-4o-mini","input":[', MESSAGE),
        "input",
    ),
    "embeddings/empty-token-lists": (
        "/v1/embeddings",
        fill(b'{"model":"openai/text-embedding-3-small","input":[', b"[]"),
        "input",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_10_mib_body_of_tiny_values_is_a_400_without_a_memory_rise(
    name: str, hostile_gateway: ServedGateway, upstreams: Upstreams
) -> None:
    path, body, param = CASES[name]
    assert len(body) <= TEN_MIB
    anthropic = path.startswith("/v1/messages")
    auth = (
        [(b"x-api-key", hostile_gateway.api_key.encode()), (b"anthropic-version", b"2023-06-01")]
        if anthropic
        else [(b"authorization", b"Bearer " + hostile_gateway.api_key.encode())]
    )
    raw = build_request("POST", path, [(b"content-type", b"application/json"), *auth], body)
    exchange(hostile_gateway.port, build_request("GET", "/health", []))  # warm
    before = hostile_gateway.memory_kib("VmRSS")
    hostile_gateway.reset_peak_memory()
    calls = upstreams.calls()
    answer = exchange(hostile_gateway.port, raw, timeout=60)
    peak = hostile_gateway.memory_kib("VmHWM")
    assert answer.status == 400, answer.body[:300]
    error = answer.json()
    if anthropic:
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert "JSON values" in error["error"]["message"]
    else:
        assert error["error"]["param"] == param
        assert "JSON values" in error["error"]["message"]
    assert upstreams.calls() == calls, "a refused request reached an upstream"
    assert peak - before < 50 * 1000, f"the gateway's peak memory rose by {peak - before} KiB"
