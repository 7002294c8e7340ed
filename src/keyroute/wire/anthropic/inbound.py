"""Anthropic Messages request body (from a client of our ``/v1/messages``) -> ``ChatRequest``.

Mapping (``providers.md`` §6.3):

- A turn's fields other than ``role`` and ``content`` -> ``Message.extra`` of its last message,
  except a per-turn ``output_config`` holding only ``effort``, which is ``Message.reasoning_effort``
  (it governs the answers from that turn on).
- ``system`` (string or text blocks) -> leading ``system`` messages, one per block. A
  ``role: "system"`` turn inside ``messages`` (Claude Code sends one, with ``cache_control``)
  -> a ``system`` message where it stands; it holds text blocks only.
- A user turn's ``tool_result`` blocks -> one ``tool`` message each (``is_error`` kept), the rest of
  the turn -> a ``user`` message after them; ``tool_use`` blocks -> assistant ``tool_calls`` (their
  ``input`` re-serialised as JSON text); ``thinking`` / ``redacted_thinking`` -> ``ThinkingPart``.
- Blocks keyroute has no canonical shape for (``document``, ``search_result``, server-tool
  blocks, a text block with ``citations``...) -> ``OpaquePart`` with the block verbatim: Anthropic
  gets it back unchanged, any other provider rejects it by name.
- A top-level field is mapped only when all of it is understood (``metadata`` with only
  ``user_id``, ``output_config`` with ``format`` / ``effort``, ``thinking`` ``enabled`` with a
  budget, ``adaptive`` or ``disabled``, each with its ``display``); otherwise the whole field goes
  to ``passthrough`` untouched, as does every unknown top-level field.
- ``tools`` of custom tools only are mapped tool by tool: each tool's unknown fields go to
  ``ToolSpec.extra`` (forwarded to Anthropic, refused by name elsewhere, ``tools[0].x``). A list
  holding a server tool (``web_search_...``) goes to ``passthrough`` whole.
- Optimisations of Anthropic's own serving that change no answer are marked optional, so other
  providers leave them out instead of refusing the request: the top-level ``context_management``
  (server-side context editing, e.g. clearing old thinking) and ``cache_control`` (automatic
  prompt caching), and a tool's ``defer_loading`` (load the definition on demand: elsewhere the
  tool is sent in full) and ``eager_input_streaming`` (stream the tool's arguments unbuffered: only
  the chunking of the stream changes).

Validation errors are ``InvalidRequest`` whose ``param`` is the JSON path (``messages[1].content``).
``max_tokens`` may be absent (the Messages API requires it, ``count_tokens`` bodies lack it): the
request then leaves it ``None`` and the provider's default applies.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, TypeVar

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
from keyroute.core.json import JsonValue
from keyroute.wire import json_budget
from keyroute.wire.anthropic.schema import (
    REQUEST_FIELDS,
    Base64SourceParam,
    CacheControlParam,
    ImageBlockParam,
    MessageParam,
    MetadataParam,
    OutputConfigParam,
    RedactedThinkingBlockParam,
    RequestParams,
    TextBlockParam,
    ThinkingBlockParam,
    ThinkingParam,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
    UrlSourceParam,
    convert,
    fields_of,
    invalid_request,
)

T = TypeVar("T")

OPTIONAL_FIELDS = frozenset({"context_management", "cache_control"})
"""Top-level fields that only tune Anthropic's serving (see the module docstring)."""
OPTIONAL_TOOL_FIELDS = frozenset({"defer_loading", "eager_input_streaming"})
"""Tool fields that only tune Anthropic's serving (see the module docstring)."""
_TOOL_FIELDS = fields_of(ToolParam)
_TURN_FIELDS = fields_of(MessageParam)
_HEAVY_FIELDS = ("messages", "system", "tools", "output_config", "metadata")

_CHOICES: dict[str, Literal["auto", "none", "required", "tool"]] = {
    "auto": "auto",
    "any": "required",
    "tool": "tool",
    "none": "none",
}


def decode_request(body: bytes) -> ChatRequest:
    """Parse and validate a Messages request body.

    Raises:
        InvalidRequest: Malformed JSON or a field of the wrong shape; ``param`` is its JSON path.
    """
    json_budget.check(body, json_budget.MAX_REQUEST_VALUES, _HEAVY_FIELDS)
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidRequest("Request body must be a JSON object")
    turn_extras = _split_turn_extras(raw)
    params = convert({k: v for k, v in raw.items() if k in REQUEST_FIELDS}, RequestParams)
    rest: dict[str, JsonValue] = {k: v for k, v in raw.items() if k not in REQUEST_FIELDS}
    tools = _tools(rest)
    metadata = _take(rest, "metadata", MetadataParam)
    output = _take(rest, "output_config", OutputConfigParam)
    thinking = _take(rest, "thinking", ThinkingParam)
    if thinking is not None and thinking.type == "enabled" and thinking.budget_tokens is None:
        raise InvalidRequest(
            "thinking.budget_tokens: Field required when type is enabled",
            param="thinking.budget_tokens",
        )
    if params.max_tokens is not None and params.max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1", param="max_tokens")
    if not params.messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    choice = params.tool_choice
    return ChatRequest(
        model=params.model,
        messages=(*_system(params.system), *_messages(params.messages, turn_extras)),
        stream=bool(params.stream),
        include_usage=bool(params.stream),
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        stop=tuple(params.stop_sequences or ()),
        tools=tools,
        tool_choice=ToolChoice(mode=_CHOICES[choice.type], name=choice.name) if choice else None,
        parallel_tool_calls=_parallel(choice),
        response_format=_format(output),
        user=metadata.user_id if metadata else None,
        reasoning_effort=output.effort if output else None,
        thinking_budget=thinking.budget_tokens if thinking else None,
        thinking=thinking.type if thinking else None,
        thinking_display=thinking.display if thinking else None,
        passthrough=rest,
        optional=frozenset(rest) & OPTIONAL_FIELDS,
        source_format="anthropic",
    )


def _take(rest: dict[str, JsonValue], key: str, type_: type[T]) -> T | None:
    """``rest[key]`` as ``type_`` (removed from ``rest``), or None if absent or not understood."""
    if key not in rest:
        return None
    try:
        value = msgspec.convert(rest[key], type_)
    except msgspec.ValidationError:
        return None  # server tools, new fields...: forwarded untouched as pass-through
    del rest[key]
    return value


def _tools(rest: dict[str, JsonValue]) -> tuple[ToolSpec, ...]:
    """``rest["tools"]`` as tool specs (removed from ``rest``) when every tool is a custom tool."""
    raw = rest.get("tools")
    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and t.get("type") in (None, "custom") for t in raw
    ):
        return ()  # absent, or holding server tools: forwarded untouched as pass-through
    del rest["tools"]
    specs = []
    for i, tool in enumerate(raw):
        assert isinstance(tool, dict)  # noqa: S101 - checked above
        known = {k: v for k, v in tool.items() if k in _TOOL_FIELDS}
        extra = {k: v for k, v in tool.items() if k not in _TOOL_FIELDS}
        spec = _tool(convert(known, ToolParam, f"tools[{i}]"))
        specs.append(replace(spec, extra=extra, optional=frozenset(extra) & OPTIONAL_TOOL_FIELDS))
    return tuple(specs)


def _parallel(choice: ToolChoiceParam | None) -> bool | None:
    if choice is None or choice.disable_parallel_tool_use is None:
        return None
    return not choice.disable_parallel_tool_use


def _format(output: OutputConfigParam | None) -> ResponseFormat | None:
    if output is None or output.format is None:
        return None
    return ResponseFormat(type="json_schema", schema=output.format.schema)


def _cache(cc: CacheControlParam | None) -> CacheControl | None:
    return None if cc is None else CacheControl(ttl=cc.ttl)


def _tool(tool: ToolParam) -> ToolSpec:
    return ToolSpec(
        name=tool.name,
        description=tool.description,
        parameters=tool.input_schema,
        strict=tool.strict,
        cache_control=_cache(tool.cache_control),
    )


def _system(system: str | list[TextBlockParam] | None) -> list[Message]:
    if system is None:
        return []
    if isinstance(system, str):
        return [Message(role="system", content=(TextPart(text=system),))]
    return [
        Message(
            role="system",
            content=(TextPart(text=b.text, cache_control=_cache(b.cache_control)),),
        )
        for b in system
    ]


def _split_turn_extras(raw: dict[str, Any]) -> list[dict[str, JsonValue]]:
    """Remove each turn's fields other than role and content from ``raw``; return them."""
    turns = raw.get("messages")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return []  # validation names the problem
    extras = [{k: v for k, v in t.items() if k not in _TURN_FIELDS} for t in turns]
    raw["messages"] = [{k: v for k, v in t.items() if k in _TURN_FIELDS} for t in turns]
    return extras


def _messages(turns: list[MessageParam], extras: list[dict[str, JsonValue]]) -> list[Message]:
    out: list[Message] = []
    for i, turn in enumerate(turns):
        path = f"messages[{i}].content"
        if turn.role == "system":
            made = [_system_turn(turn.content, path)]
        elif isinstance(turn.content, str):
            made = [Message(role=turn.role, content=(TextPart(text=turn.content),))]
        elif turn.role == "assistant":
            made = [_assistant(turn.content, path)]
        else:
            made = _user(turn.content, path)
        extra = dict(extras[i]) if i < len(extras) else {}
        if extra:
            # A turn's own effort (per-turn control) is mapped; anything else rides along.
            effort = _take(extra, "output_config", _TurnOutputConfig)
            made[-1] = replace(
                made[-1], extra=extra, reasoning_effort=effort.effort if effort else None
            )
        out.extend(made)
    return out


class _TurnOutputConfig(msgspec.Struct, forbid_unknown_fields=True):
    effort: str


def _system_turn(content: str | list[dict[str, Any]], path: str) -> Message:
    if isinstance(content, str):
        return Message(role="system", content=(TextPart(text=content),))
    parts: list[ContentPart] = []
    for j, block in enumerate(content):
        text = convert(block, TextBlockParam, f"{path}[{j}]")
        parts.append(TextPart(text=text.text, cache_control=_cache(text.cache_control)))
    return Message(role="system", content=tuple(parts))


def _user(blocks: list[dict[str, Any]], path: str) -> list[Message]:
    out: list[Message] = []
    parts: list[ContentPart] = []
    for j, block in enumerate(blocks):
        where = f"{path}[{j}]"
        if block.get("type") == "tool_result":
            if parts:
                out.append(Message(role="user", content=tuple(parts)))
                parts = []
            _reject_unknown(block, ToolResultBlockParam, where)
            out.append(_tool_result(convert(block, ToolResultBlockParam, where), where))
        else:
            parts.append(_part(block, where))
    if parts or not out:
        out.append(Message(role="user", content=tuple(parts)))
    return out


def _assistant(blocks: list[dict[str, Any]], path: str) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        where = f"{path}[{j}]"
        if block.get("type") == "tool_use":
            _reject_unknown(block, ToolUseBlockParam, where)
            use = convert(block, ToolUseBlockParam, where)
            args = msgspec.json.encode(use.input).decode()
            calls.append(ToolCall(id=use.id, name=use.name, arguments=args))
        else:
            parts.append(_part(block, where))
    return Message(role="assistant", content=tuple(parts), tool_calls=tuple(calls))


def _reject_unknown(block: dict[str, Any], struct: type[msgspec.Struct], where: str) -> None:
    extra = sorted(set(block) - fields_of(struct))
    if extra:
        raise UnsupportedFeature(
            f"{extra[0]!r} on a {block.get('type')} block is not supported by keyroute",
            param=f"{where}.{extra[0]}",
        )


def _tool_result(block: ToolResultBlockParam, where: str) -> Message:
    content = block.content
    parts: list[ContentPart]
    if content is None:
        parts = []
    elif isinstance(content, str):
        parts = [TextPart(text=content)]
    else:
        parts = [_part(b, f"{where}.content[{k}]") for k, b in enumerate(content)]
    if block.cache_control is not None:
        last = parts[-1] if parts else None
        if not isinstance(last, TextPart) or last.cache_control is not None:
            raise UnsupportedFeature(
                "cache_control on a tool_result is supported when its content ends with text",
                param=f"{where}.cache_control",
            )
        parts[-1] = TextPart(text=last.text, cache_control=_cache(block.cache_control))
    return Message(
        role="tool", content=tuple(parts), tool_call_id=block.tool_use_id, is_error=block.is_error
    )


def _part(block: dict[str, Any], where: str) -> ContentPart:
    kind = block.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest("Content block needs a string 'type'", param=f"{where}.type")
    if kind == "thinking":
        thinking = convert(block, ThinkingBlockParam, where)
        return ThinkingPart(text=thinking.thinking, signature=thinking.signature)
    if kind == "redacted_thinking":
        redacted = convert(block, RedactedThinkingBlockParam, where)
        return ThinkingPart(text=redacted.data, redacted=True)
    if kind == "text" and set(block) <= fields_of(TextBlockParam):
        text = convert(block, TextBlockParam, where)
        return TextPart(text=text.text, cache_control=_cache(text.cache_control))
    if kind == "image" and set(block) <= fields_of(ImageBlockParam):
        image = _image(convert(block, ImageBlockParam, where), where)
        if image is not None:
            return image
    return OpaquePart(source="anthropic", part_type=kind, payload=block)


def _image(block: ImageBlockParam, where: str) -> ImagePart | None:
    cc = _cache(block.cache_control)
    kind = block.source.get("type")
    try:
        if kind == "base64":
            src = msgspec.convert(block.source, Base64SourceParam)
            return ImagePart(data=src.data, media_type=src.media_type, cache_control=cc)
        if kind == "url":
            url = msgspec.convert(block.source, UrlSourceParam)
            return ImagePart(url=url.url, cache_control=cc)
    except msgspec.ValidationError as exc:
        raise invalid_request(exc, f"{where}.source") from None
    return None  # file sources and new kinds travel as opaque blocks
