"""``ChatRequest`` -> an OpenAI chat-completions body, for OpenAI and OpenAI-compatible hosts.

Pass-through fields (and a tool's ``extra`` fields) travel only when the request itself arrived
in OpenAI's format; from any other format they are refused by name (``tools[0].x``). Left out on
purpose, because none of them changes what an OpenAI-format model answers: thinking blocks and
Gemini tool-call signatures of another provider's model (bound to the model that made them),
``cache_control`` markers (OpenAI caches prompt prefixes by itself) unless the host is known to
accept them, and the fields the source format marked optional (``ChatRequest.optional``,
``ToolSpec.optional``: Anthropic's ``context_management``, ``defer_loading``...).

Emulated: a tool result marked ``is_error`` (the format has no such flag) is sent as the JSON
text ``{"error": <result>}`` (the result parsed when it is JSON, else as a string), the shape
Gemini reads as a failed call, so the model still learns the call failed. Anthropic's
``thinking``: ``adaptive`` is what OpenAI reasoning models do by themselves (their effort comes
from ``reasoning_effort``) and sends nothing; ``display: omitted`` matches a format that never
returns reasoning. ``display: summarized`` and ``disabled`` have no equivalent and are refused.
An effort set on a turn (Anthropic's per-turn control) governs the answer, so the last one is
sent as ``reasoning_effort`` (``ChatRequest.effort``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import UnsupportedFeature


def encode_request(
    req: ChatRequest,
    model: str,
    *,
    provider: str,
    max_tokens_field: str = "max_completion_tokens",
    cache_control: bool = False,
) -> dict[str, Any]:
    """The body to send; ``cache_control`` keeps Anthropic-style cache markers."""
    _check_foreign(req, provider)
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m, i, provider, cache_control) for i, m in enumerate(req.messages)],
    }
    optional: dict[str, Any] = {
        "temperature": req.temperature,
        "top_p": req.top_p,
        "seed": req.seed,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
        "user": req.user,
        "reasoning_effort": req.effort(),
        "parallel_tool_calls": req.parallel_tool_calls,
        "metadata": dict(req.metadata) if req.metadata is not None else None,
        _max_tokens_field(req, max_tokens_field): req.max_tokens,
    }
    body.update((k, v) for k, v in optional.items() if v is not None)
    if req.top_k is not None:
        raise UnsupportedFeature(
            f"'top_k' is not supported by provider '{provider}'.", param="top_k"
        )
    if req.thinking_budget is not None:
        raise UnsupportedFeature(
            f"A thinking token budget is not supported by provider '{provider}'; "
            "use 'reasoning_effort'.",
            param="thinking",
        )
    if req.stop:
        body["stop"] = list(req.stop)
    if req.tools:
        native = req.source_format == "openai"
        body["tools"] = [
            _tool(t, i, cache_control, native, provider) for i, t in enumerate(req.tools)
        ]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice)
    if req.response_format is not None:
        body["response_format"] = _response_format(req)
    if req.stream:
        body["stream"] = True
        # Always: the gateway meters every stream. The client sees the usage chunk only if it
        # asked for it (``include_usage``): the stream encoder hides it otherwise.
        body["stream_options"] = {"include_usage": True}
    if req.source_format == "openai":
        body.update(req.passthrough)
    if req.prompt_cache_key is not None:
        body.setdefault("prompt_cache_key", req.prompt_cache_key)  # the client's own wins
    return body


def _check_foreign(req: ChatRequest, provider: str) -> None:
    if req.source_format == "openai":
        return
    for field in req.passthrough:
        if field not in req.optional:
            raise UnsupportedFeature(
                f"The field '{field}' of the {req.source_format} format has no equivalent on "
                f"provider '{provider}'.",
                param=field,
            )
    if req.thinking == "disabled":
        raise UnsupportedFeature(
            f"Provider '{provider}' cannot switch reasoning off; leave 'thinking' out or set "
            "a low effort.",
            param="thinking.type",
        )
    if req.thinking_display == "summarized":
        raise UnsupportedFeature(
            f"Provider '{provider}' returns no reasoning text in the chat-completions format.",
            param="thinking.display",
        )


def _max_tokens_field(req: ChatRequest, default: str) -> str:
    """The client's own field name when it spoke OpenAI's format; else the provider's choice."""
    if req.source_format == "openai" and req.max_tokens_name is not None:
        return req.max_tokens_name
    return default


def _cache(c: CacheControl | None) -> dict[str, Any]:
    if c is None:
        return {}
    return {"cache_control": {"type": "ephemeral", **({"ttl": c.ttl} if c.ttl else {})}}


def _part(p: ContentPart, where: str, provider: str, cache: bool) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text, **(_cache(p.cache_control) if cache else {})}
    if isinstance(p, ImagePart):
        url = p.url if p.url is not None else f"data:{p.media_type};base64,{p.data}"
        image: dict[str, Any] = {"url": url}
        if p.detail is not None:
            image["detail"] = p.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(p, OpaquePart):
        if p.source != "openai":
            raise UnsupportedFeature(
                f"Content of type '{p.part_type}' is not supported by provider '{provider}'.",
                param=where,
            )
        return {"type": p.part_type, p.part_type: p.payload}
    return None  # thinking: see the module docstring


def _content(m: Message, i: int, provider: str, cache: bool) -> str | list[dict[str, Any]]:
    plain = all(
        isinstance(p, TextPart) and (p.cache_control is None or not cache) for p in m.content
    )
    if plain and m.role != "user" or plain and len(m.content) == 1:
        return "".join(p.text for p in m.content if isinstance(p, TextPart))
    parts = [
        _part(p, f"messages[{i}].content[{j}]", provider, cache) for j, p in enumerate(m.content)
    ]
    return [p for p in parts if p is not None]


def _message(m: Message, i: int, provider: str, cache: bool) -> dict[str, Any]:
    for key in m.extra:
        raise UnsupportedFeature(
            f"The message field 'messages[{i}].{key}' has no equivalent on provider '{provider}'.",
            param=f"messages[{i}].{key}",
        )
    out: dict[str, Any] = {"role": m.role}
    if m.role == "tool":
        if any(not isinstance(p, TextPart) for p in m.content):
            raise UnsupportedFeature(
                f"Tool results may hold only text for provider '{provider}' (the OpenAI format "
                "has no images or documents in tool messages).",
                param=f"messages[{i}].content",
            )
        out["tool_call_id"] = m.tool_call_id
        out["content"] = _error_result(m.text()) if m.is_error else _content(m, i, provider, cache)
        return out
    if m.role == "assistant":
        text = _content(m, i, provider, cache)
        out["content"] = text if text else None
        if m.refusal is not None:
            out["refusal"] = m.refusal
        if m.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ]
    else:
        out["content"] = _content(m, i, provider, cache)
    if m.name is not None:
        out["name"] = m.name
    return out


def _error_result(text: str) -> str:
    """A failed tool run's result, marked (see the module docstring)."""
    try:
        value: Any = msgspec.json.decode(text)
    except msgspec.DecodeError:
        value = text
    return msgspec.json.encode({"error": value}).decode()


def _tool(t: ToolSpec, i: int, cache: bool, native: bool, provider: str) -> dict[str, Any]:
    for key in t.extra:
        if not native and key not in t.optional:
            raise UnsupportedFeature(
                f"The tool field 'tools[{i}].{key}' has no equivalent on provider '{provider}'.",
                param=f"tools[{i}].{key}",
            )
    fn: dict[str, Any] = {"name": t.name, "parameters": t.parameters}
    if t.description is not None:
        fn["description"] = t.description
    if t.strict is not None:
        fn["strict"] = t.strict
    out = {"type": "function", "function": fn, **(_cache(t.cache_control) if cache else {})}
    if native:
        out.update(t.extra)
    return out


def _tool_choice(c: ToolChoice) -> Any:
    if c.mode == "tool":
        return {"type": "function", "function": {"name": c.name}}
    return c.mode


def _response_format(req: ChatRequest) -> dict[str, Any]:
    f = req.response_format
    assert f is not None  # noqa: S101 - checked by the caller
    if f.type != "json_schema":
        return {"type": f.type}
    schema: dict[str, Any] = {"name": f.name or "response"}
    if f.schema is not None:
        schema["schema"] = f.schema
    if f.strict is not None:
        schema["strict"] = f.strict
    if f.description is not None:
        schema["description"] = f.description
    return {"type": "json_schema", "json_schema": schema}
