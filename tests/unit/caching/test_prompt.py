"""``keyroute.caching.prompt.PromptCaching``: what each caching style adds, from the settings."""

from __future__ import annotations

from keyroute.caching.prompt import PromptCaching, prompt_cache_key
from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.storage.base import CachingSettingsRecord
from keyroute.wire.openai.encode import encode_request

SYSTEM = "Answer in French. " * 400
AUTO = CachingSettingsRecord()
OFF = CachingSettingsRecord(prompt_cache="off")


def msg(role: str, text: str) -> Message:
    return Message(role=role, content=(TextPart(text=text),))  # type: ignore[arg-type]


def chat(*messages: Message, **kw: object) -> ChatRequest:
    return ChatRequest(model="m", messages=messages, **kw)  # type: ignore[arg-type]


def prepare(
    req: ChatRequest,
    style: str,
    *,
    model: str = "claude-sonnet-5",
    provider: str = "anthropic",
    settings: CachingSettingsRecord = AUTO,
    workspace: str = "ws1",
) -> ChatRequest:
    return PromptCaching(builtin()).prepare(
        req,
        style=style,
        provider=provider,
        model=model,
        workspace_id=workspace,
        settings=settings,
    )


def marked(req: ChatRequest) -> bool:
    return any(
        getattr(p, "cache_control", None) is not None for m in req.messages for p in m.content
    )


def test_breakpoints_follow_the_workspace_switch() -> None:
    req = chat(msg("system", SYSTEM), msg("user", "hi"))
    assert marked(prepare(req, "breakpoints"))
    assert prepare(req, "breakpoints", settings=OFF) is req


def test_the_catalogue_minimum_applies() -> None:
    req = chat(msg("system", "Answer in French. " * 300), msg("user", "hi"))  # ~1,350 tokens
    assert marked(prepare(req, "breakpoints", model="claude-sonnet-5"))  # minimum 1,024
    assert not marked(prepare(req, "breakpoints", model="claude-haiku-4-5"))  # minimum 4,096
    assert marked(prepare(req, "breakpoints", model="claude-unknown"))  # the default, 1,024


def test_openai_gets_a_stable_key_per_workspace_and_conversation() -> None:
    turn1 = chat(msg("system", SYSTEM), msg("user", "q1"))
    turn2 = chat(*turn1.messages, msg("assistant", "a1"), msg("user", "q2"))
    other = chat(msg("system", SYSTEM), msg("user", "another conversation"))
    k1 = prepare(turn1, "key", provider="openai").prompt_cache_key
    assert k1 is not None and k1.startswith("kr-") and len(k1) <= 64
    assert prepare(turn2, "key", provider="openai").prompt_cache_key == k1
    assert prepare(other, "key", provider="openai").prompt_cache_key != k1
    assert prepare(turn1, "key", provider="openai", workspace="ws2").prompt_cache_key != k1
    assert k1 == prompt_cache_key("ws1", turn1)
    body = encode_request(prepare(turn1, "key", provider="openai"), "gpt-4o", provider="openai")
    assert body["prompt_cache_key"] == k1


def test_the_clients_own_key_wins_and_off_adds_none() -> None:
    own = chat(msg("user", "q"), passthrough={"prompt_cache_key": "mine"})
    assert prepare(own, "key", provider="openai") is own
    assert encode_request(own, "gpt-4o", provider="openai")["prompt_cache_key"] == "mine"
    plain = chat(msg("user", "q"))
    assert prepare(plain, "key", provider="openai", settings=OFF).prompt_cache_key is None


def test_implicit_and_unknown_styles_change_nothing() -> None:
    req = chat(msg("system", SYSTEM), msg("user", "hi"))
    assert prepare(req, "implicit", provider="gemini") is req
    assert prepare(req, "none", provider="groq") is req


def test_an_openai_clients_cache_hints_reach_openai_and_are_left_out_elsewhere() -> None:
    from keyroute.wire.anthropic import encode_request as anthropic_body
    from keyroute.wire.openai.request import decode_request

    raw = b'{"model": "m", "messages": [{"role": "user", "content": "q"}],'
    raw += b' "prompt_cache_key": "mine", "prompt_cache_retention": "24h"}'
    req = decode_request(raw)
    sent = encode_request(prepare(req, "key", provider="openai"), "gpt-4o", provider="openai")
    assert (sent["prompt_cache_key"], sent["prompt_cache_retention"]) == ("mine", "24h")
    claude = anthropic_body(prepare(req, "breakpoints"), "claude-sonnet-5", default_max_tokens=9)
    assert "prompt_cache_key" not in claude and "prompt_cache_retention" not in claude
