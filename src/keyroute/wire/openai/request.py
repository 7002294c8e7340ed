"""OpenAI chat-completions requests: client bytes -> ``ChatRequest`` and ``ChatRequest`` -> body.

Inbound, every field keyroute understands is validated (a bad one is a 400 naming its JSON path)
and mapped; any other top-level field is kept in ``passthrough`` for an OpenAI-format provider and
refused by name by every other provider, and so is a tool's unknown field (``ToolSpec.extra``,
refused as ``tools[0].<field>``). The SDK helpers' echoes in an assistant message (``parsed``,
``tool_calls[].index``, ``function.parsed_arguments``, ``annotations``, ``refusal`` as a field of
its own) are accepted and not forwarded; an echoed ``audio`` answer stands for its ``transcript``
when the message has no text (its audio itself is not sent back).
Outbound, the body is rebuilt from the canonical request, so a request that arrived in
Anthropic's format reaches an OpenAI-format provider too.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import msgspec

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.wire import json_budget
from keyroute.wire.openai import _schema as s

_PATH = re.compile(r"`\$\.?([^`]*)`")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)
_HEAVY_FIELDS = ("messages", "tools", "response_format", "metadata")
CACHE_HINTS = frozenset({"prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"})
"""OpenAI's prompt-cache hints: they change no answer, so another provider leaves them out."""


def decode_request(body: bytes) -> ChatRequest:
    """Parse and validate a client's chat-completions body."""
    json_budget.check(body, json_budget.MAX_REQUEST_VALUES, _HEAVY_FIELDS)
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    for required in ("model", "messages"):
        if required not in raw:
            raise InvalidRequest(f"Missing required parameter: '{required}'.", param=required)
    passthrough = {k: v for k, v in raw.items() if k not in s.KNOWN_FIELDS}
    extras = _split_tool_extras(raw)
    try:
        parsed = msgspec.convert(raw, s.ChatRequestS)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc) from None
    req = _to_canonical(parsed, passthrough)
    if any(extras):
        tools = tuple(replace(t, extra=e) for t, e in zip(req.tools, extras, strict=True))
        req = replace(req, tools=tools)
    return req


def _split_tool_extras(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Remove each tool's unknown fields from ``raw`` and return them, tool by tool."""
    tools = raw.get("tools")
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        return []  # validation names the problem
    extras = [{k: v for k, v in t.items() if k not in s.TOOL_FIELDS} for t in tools]
    raw["tools"] = [{k: v for k, v in t.items() if k in s.TOOL_FIELDS} for t in tools]
    return extras


def _validation_error(exc: msgspec.ValidationError) -> InvalidRequest:
    text = str(exc)
    match = _PATH.search(text)
    param = match.group(1) if match else None
    return InvalidRequest(f"Invalid request: {text}", param=param or None)


def _to_canonical(r: s.ChatRequestS, passthrough: dict[str, Any]) -> ChatRequest:
    if not r.model:
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    if not r.messages:
        raise InvalidRequest("'messages' must contain at least one message.", param="messages")
    if r.n is not None and r.n != 1:
        raise UnsupportedFeature(
            "keyroute serves one choice per request: 'n' must be 1.", param="n"
        )
    if r.max_tokens is not None and r.max_completion_tokens is not None:
        if r.max_tokens != r.max_completion_tokens:
            raise InvalidRequest(
                "Set either 'max_tokens' or 'max_completion_tokens', not both.",
                param="max_completion_tokens",
            )
    max_tokens = r.max_completion_tokens if r.max_completion_tokens is not None else r.max_tokens
    _check_ranges(r, max_tokens)
    stop = (r.stop,) if isinstance(r.stop, str) else tuple(r.stop or ())
    return ChatRequest(
        model=r.model,
        messages=tuple(_message(m, i) for i, m in enumerate(r.messages)),
        stream=bool(r.stream),
        include_usage=bool(r.stream_options and r.stream_options.include_usage),
        max_tokens=max_tokens,
        max_tokens_name=(
            "max_completion_tokens"
            if r.max_completion_tokens is not None
            else "max_tokens"
            if r.max_tokens is not None
            else None
        ),
        temperature=r.temperature,
        top_p=r.top_p,
        stop=stop,
        tools=tuple(_tool(t) for t in r.tools or ()),
        tool_choice=_tool_choice(r.tool_choice),
        parallel_tool_calls=r.parallel_tool_calls,
        response_format=_response_format(r.response_format),
        seed=r.seed,
        presence_penalty=r.presence_penalty,
        frequency_penalty=r.frequency_penalty,
        user=r.user,
        reasoning_effort=r.reasoning_effort,
        metadata=r.metadata,
        passthrough=passthrough,
        optional=frozenset(passthrough) & CACHE_HINTS,
        source_format="openai",
    )


def _check_ranges(r: s.ChatRequestS, max_tokens: int | None) -> None:
    if max_tokens is not None and max_tokens < 1:
        field = "max_completion_tokens" if r.max_completion_tokens is not None else "max_tokens"
        raise InvalidRequest(f"'{field}' must be at least 1.", param=field)
    if r.temperature is not None and not 0 <= r.temperature <= 2:
        raise InvalidRequest("'temperature' must be between 0 and 2.", param="temperature")
    if r.top_p is not None and not 0 <= r.top_p <= 1:
        raise InvalidRequest("'top_p' must be between 0 and 1.", param="top_p")
    if isinstance(r.stop, list) and len(r.stop) > 4:
        raise InvalidRequest("'stop' takes at most 4 sequences.", param="stop")
    if r.stream_options is not None and not r.stream:
        raise InvalidRequest(
            "'stream_options' is only allowed when 'stream' is true.", param="stream_options"
        )


def _cache(c: s.CacheControlS | None) -> CacheControl | None:
    return None if c is None else CacheControl(ttl=c.ttl)


def _text_parts(content: str | list[s.TextPartS]) -> tuple[ContentPart, ...]:
    if isinstance(content, str):
        return (TextPart(text=content),)
    return tuple(TextPart(text=p.text, cache_control=_cache(p.cache_control)) for p in content)


def _user_part(p: s.UserPart, where: str) -> ContentPart:
    if isinstance(p, s.TextPartS):
        return TextPart(text=p.text, cache_control=_cache(p.cache_control))
    if isinstance(p, s.ImagePartS):
        return image_from_url(
            p.image_url.url,
            p.image_url.detail,
            _cache(p.cache_control),
            param=f"{where}.image_url.url",
        )
    if isinstance(p, s.AudioPartS):
        return OpaquePart(source="openai", part_type="input_audio", payload={**p.input_audio})
    return OpaquePart(source="openai", part_type="file", payload={**p.file})


def image_from_url(
    url: str, detail: Any = None, cache: CacheControl | None = None, *, param: str | None = None
) -> ImagePart:
    """An ``image_url`` value (``https://...`` or a base64 ``data:`` URL) as an ``ImagePart``."""
    match = _DATA_URL.match(url)
    if match:
        return ImagePart(
            data=match.group(2), media_type=match.group(1), detail=detail, cache_control=cache
        )
    if url.startswith("data:"):
        raise InvalidRequest(
            "Image data URLs must look like 'data:<mime>;base64,<data>'.", param=param
        )
    return ImagePart(url=url, detail=detail, cache_control=cache)


def _message(m: s.MessageS, i: int) -> Message:
    if isinstance(m, s.SystemMessageS | s.DeveloperMessageS):
        return Message(role=m.__struct_config__.tag, content=_text_parts(m.content), name=m.name)  # type: ignore[arg-type]
    if isinstance(m, s.UserMessageS):
        parts = (
            (TextPart(text=m.content),)
            if isinstance(m.content, str)
            else tuple(
                _user_part(p, f"messages[{i}].content[{j}]") for j, p in enumerate(m.content)
            )
        )
        return Message(role="user", content=parts, name=m.name)
    if isinstance(m, s.ToolMessageS):
        return Message(role="tool", content=_text_parts(m.content), tool_call_id=m.tool_call_id)
    return _assistant(m, i)


def _assistant(m: s.AssistantMessageS, i: int) -> Message:
    if m.function_call:
        raise UnsupportedFeature(
            "Assistant messages with 'function_call' are not supported.",
            param=f"messages[{i}].function_call",
        )
    parts: list[ContentPart] = []
    if m.reasoning_content:
        parts.append(ThinkingPart(text=m.reasoning_content))
    if isinstance(m.content, str):
        if m.content:
            parts.append(TextPart(text=m.content))
    elif m.content:
        parts.extend(TextPart(text=p.text) for p in m.content if isinstance(p, s.TextPartS))
    transcript = (m.audio or {}).get("transcript")
    if isinstance(transcript, str) and transcript and not m.content:
        parts.append(TextPart(text=transcript))
    parts_in = m.content if isinstance(m.content, list) else ()  # never a string's characters
    refusals = [p.refusal for p in parts_in if isinstance(p, s.RefusalPartS)]
    if m.refusal:
        refusals.insert(0, m.refusal)
    calls = tuple(
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
        for c in m.tool_calls or ()
    )
    return Message(
        role="assistant",
        content=tuple(parts),
        name=m.name,
        tool_calls=calls,
        refusal="\n".join(refusals) if refusals else None,
    )


def _tool(t: s.ToolS) -> ToolSpec:
    f = t.function
    return ToolSpec(
        name=f.name,
        description=f.description,
        parameters=f.parameters if f.parameters is not None else {},
        strict=f.strict,
        cache_control=_cache(t.cache_control),
    )


def _tool_choice(c: str | s.NamedToolChoiceS | None) -> ToolChoice | None:
    if c is None:
        return None
    if isinstance(c, s.NamedToolChoiceS):
        return ToolChoice(mode="tool", name=c.function.name)
    return ToolChoice(mode=c)  # type: ignore[arg-type]


def _response_format(f: s.ResponseFormatS | None) -> ResponseFormat | None:
    if f is None:
        return None
    if f.type != "json_schema":
        return ResponseFormat(type=f.type)
    if f.json_schema is None:
        raise InvalidRequest(
            "'response_format.json_schema' is required when type is 'json_schema'.",
            param="response_format.json_schema",
        )
    js = f.json_schema
    return ResponseFormat(
        type="json_schema",
        name=js.name,
        schema=js.schema,
        strict=js.strict,
        description=js.description,
    )
