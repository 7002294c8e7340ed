"""Stable prefixes: keyroute's translation keeps every upstream prompt prefix byte-identical.

For every inbound format (OpenAI chat, OpenAI Responses, Anthropic Messages) and every provider
(OpenAI, Anthropic, Gemini), a conversation's request goes through the real codecs, the
prompt-cache stage and the provider adapter, as the pipeline does. Sending the same request
twice gives the same bytes; the next turn of the conversation repeats the previous request's
tools, system prompt and turns byte for byte (cache markers aside, which are not part of a
provider's cached content), keeping the client's key order in tool schemas. No timestamp, id or
other changing text enters a prompt.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.caching.prompt import PromptCaching
from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest
from keyroute.core.secret import Secret
from keyroute.providers.base import Target
from keyroute.providers.registry import create
from keyroute.storage.base import CachingSettingsRecord
from keyroute.wire.anthropic.inbound import decode_request as decode_anthropic
from keyroute.wire.openai.request import decode_request as decode_openai
from keyroute.wire.openai_responses.request import decode_request as decode_responses

SYSTEM = "You answer questions about the warehouse inventory. " * 120
SCHEMA = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "aisle": {"type": "integer"}},
    "required": ["sku"],
}
TARGETS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-5", "gemini": "gemini-3.5-flash"}
SECTIONS = {
    "openai": ("tools", "messages"),
    "anthropic": ("tools", "system", "messages"),
    "gemini": ("tools", "systemInstruction", "contents"),
}


def turns(n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in range(n):
        out.append(("user", f"Where is item {k}?"))
        if k < n - 1:
            out.append(("assistant", f"Item {k} is in aisle {k + 3}."))
    return out


def openai_body(n: int) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}]
    messages += [{"role": r, "content": t} for r, t in turns(n)]
    tool = {"name": "locate", "description": "Find an item.", "parameters": SCHEMA}
    return {"model": "m", "messages": messages, "tools": [{"type": "function", "function": tool}]}


def anthropic_body(n: int) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 200,
        "system": SYSTEM,
        "messages": [{"role": r, "content": t} for r, t in turns(n)],
        "tools": [{"name": "locate", "description": "Find an item.", "input_schema": SCHEMA}],
    }


def responses_body(n: int) -> dict[str, Any]:
    return {
        "model": "m",
        "instructions": SYSTEM,
        "input": [{"role": r, "content": t} for r, t in turns(n)],
        "tools": [
            {
                "type": "function",
                "name": "locate",
                "description": "Find an item.",
                "parameters": SCHEMA,
            }
        ],
    }


def decode(fmt: str, body: dict[str, Any]) -> ChatRequest:
    raw = json.dumps(body).encode()
    if fmt == "openai":
        return decode_openai(raw)
    if fmt == "anthropic":
        return decode_anthropic(raw)
    return decode_responses(raw).chat


BODIES = {"openai": openai_body, "anthropic": anthropic_body, "openai_responses": responses_body}


def upstream(fmt: str, provider: str, n: int) -> bytes:
    """The bytes keyroute sends ``provider`` for turn ``n`` of the conversation."""
    adapter = create(provider)
    req = decode(fmt, BODIES[fmt](n))
    req = PromptCaching(builtin()).prepare(
        req,
        style=adapter.capabilities.prompt_cache,
        provider=provider,
        model=TARGETS[provider],
        workspace_id="ws_1",
        settings=CachingSettingsRecord(),
    )
    target = Target(provider=provider, model=TARGETS[provider], base_url="https://upstream")
    return adapter.build_request(req, target, Secret("k" * 20)).body


def _unmarked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def sections(provider: str, body: bytes) -> dict[str, Any]:
    parsed = json.loads(body)  # keeps the key order as sent
    return {name: _unmarked(parsed.get(name)) for name in SECTIONS[provider]}


def text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


CASES = [(fmt, provider) for fmt in BODIES for provider in TARGETS]


@pytest.mark.parametrize(("fmt", "provider"), CASES)
def test_the_same_request_gives_the_same_bytes(fmt: str, provider: str) -> None:
    assert upstream(fmt, provider, 3) == upstream(fmt, provider, 3)


@pytest.mark.parametrize(("fmt", "provider"), CASES)
def test_the_next_turn_repeats_the_previous_prefix(fmt: str, provider: str) -> None:
    before = sections(provider, upstream(fmt, provider, 3))
    after = sections(provider, upstream(fmt, provider, 4))
    for name in SECTIONS[provider]:
        old, new = before[name], after[name]
        if isinstance(old, list) and name in ("messages", "contents"):
            assert text(new[: len(old)]) == text(old), name  # every earlier turn, byte for byte
            assert len(new) > len(old)
        else:
            assert text(new) == text(old), name
    tools = text(after["tools"])
    assert tools.index('"sku"') < tools.index('"aisle"')  # the client's key order is kept


def test_openai_sees_one_prompt_cache_key_per_conversation() -> None:
    keys = {json.loads(upstream("openai", "openai", n))["prompt_cache_key"] for n in (1, 2, 5)}
    assert len(keys) == 1
