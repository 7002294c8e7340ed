"""``POST /v1/responses`` bodies -> ``ResponsesRequest`` (a canonical ``ChatRequest`` plus state).

Invariants:
- Every field keyroute maps is validated (a bad one is a 400 naming its path); the canonical
  request's ``source_format`` is ``openai_responses``, so the fields keyroute does not map (kept in
  ``passthrough``) reach no chat-completions, Anthropic or Gemini host: those providers refuse
  them by name.
- What keyroute cannot do is refused by name, never ignored: built-in tools (web search, file
  search, code interpreter, computer use, ...), ``conversation`` objects, ``background`` mode,
  reusable ``prompt`` templates, ``include`` values it cannot produce.
- ``instructions`` is the first system turn of this request only (a follow-up through
  ``previous_response_id`` does not inherit it, as on OpenAI).
- ``ResponsesRequest.items`` is this request's input as items (a string input becomes one user
  message item): what ``input_items`` lists and what the state store keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

import msgspec

from keyroute.core.chat import ChatRequest, Message, ResponseFormat, TextPart, ToolChoice, ToolSpec
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.core.json import JsonObject, JsonValue
from keyroute.wire import json_budget
from keyroute.wire.openai_responses.items import text_item, to_messages

WIRE_FORMAT: Final = "openai_responses"
_MAPPED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "metadata",
        "user",
        "safety_identifier",
        "truncation",
        "stream",
        "store",
        "previous_response_id",
        "include",
        "stream_options",
    }
)
_REFUSED = {
    "conversation": "Conversation objects are not supported by keyroute; "
    "chain turns with 'previous_response_id'.",
    "prompt": "Reusable prompt templates ('prompt') are not supported by keyroute.",
}
_HEAVY_FIELDS = ("input", "tools", "text", "metadata", "include")
_INCLUDABLE = frozenset({"reasoning.encrypted_content"})
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponsesRequest:
    """A decoded Responses request. ``chat`` holds this turn only until ``with_history``."""

    chat: ChatRequest
    items: tuple[JsonObject, ...]
    instructions: str | None = None
    store: bool = True
    previous_response_id: str | None = None
    echo: JsonObject = field(default_factory=dict)  # request fields the Response object repeats


def decode_request(body: bytes) -> ResponsesRequest:
    """Parse and validate a client's ``POST /v1/responses`` body."""
    json_budget.check(body, json_budget.MAX_REQUEST_VALUES, _HEAVY_FIELDS)
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    _refuse(raw)
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    if "input" not in raw:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    items = _items(raw["input"])
    instructions = _opt(raw, "instructions", str, "a string")
    passthrough: dict[str, JsonValue] = {k: v for k, v in raw.items() if k not in _MAPPED}
    text = _opt(raw, "text", dict, "an object") or {}
    if "verbosity" in text:
        passthrough["text.verbosity"] = text["verbosity"]
    reasoning = _opt(raw, "reasoning", dict, "an object") or {}
    chat = ChatRequest(
        model=model,
        messages=tuple(_messages(instructions, list(items))),
        stream=bool(_opt(raw, "stream", bool, "a boolean")),
        max_tokens=_limit(raw),
        temperature=_number(raw, "temperature", 2.0),
        top_p=_number(raw, "top_p", 1.0),
        tools=tuple(_tool(t, i) for i, t in enumerate(_opt(raw, "tools", list, "a list") or ())),
        tool_choice=_tool_choice(raw.get("tool_choice")),
        parallel_tool_calls=_opt(raw, "parallel_tool_calls", bool, "a boolean"),
        response_format=_format(text.get("format")),
        user=_opt(raw, "safety_identifier", str, "a string") or _opt(raw, "user", str, "a string"),
        reasoning_effort=_effort(reasoning),
        thinking_display="summarized" if reasoning.get("summary") is not None else None,
        metadata=_metadata(raw),
        passthrough=passthrough,
        source_format=WIRE_FORMAT,
    )
    previous = _opt(raw, "previous_response_id", str, "a string")
    echo = {
        k: raw[k]
        for k in (
            "instructions",
            "metadata",
            "temperature",
            "top_p",
            "user",
            "max_output_tokens",
            "safety_identifier",
        )
        if k in raw
    }
    echo.update(
        tools=raw.get("tools") or [],
        tool_choice=raw.get("tool_choice", "auto"),
        parallel_tool_calls=raw.get("parallel_tool_calls", True),
        text={"format": text.get("format") or {"type": "text"}},
        truncation=raw.get("truncation") or "disabled",
        reasoning={"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
    )
    return ResponsesRequest(
        chat=chat,
        items=items,
        instructions=instructions,
        store=raw.get("store", True) is not False,
        previous_response_id=previous,
        echo=echo,
    )


def with_history(req: ResponsesRequest, history: list[JsonObject]) -> ResponsesRequest:
    """The request with the stored conversation before its own input items."""
    messages = _messages(req.instructions, [*history, *req.items])
    return replace(req, chat=replace(req.chat, messages=tuple(messages)))


def _messages(instructions: str | None, items: list[Any]) -> list[Message]:
    head = [Message(role="system", content=(TextPart(text=instructions),))] if instructions else []
    return head + to_messages(items)


def _refuse(raw: dict[str, Any]) -> None:
    for name, message in _REFUSED.items():
        if raw.get(name) is not None:
            raise UnsupportedFeature(message, param=name)
    if raw.get("background"):
        raise UnsupportedFeature(
            "Background responses are not supported by keyroute; stream instead.",
            param="background",
        )
    for i, value in enumerate(_opt(raw, "include", list, "a list") or ()):
        if value not in _INCLUDABLE:
            raise UnsupportedFeature(
                f"include value {value!r} is not supported by keyroute.", param=f"include[{i}]"
            )
    if raw.get("truncation") not in (None, "auto", "disabled"):
        raise InvalidRequest("'truncation' must be 'auto' or 'disabled'.", param="truncation")
    _opt(raw, "store", bool, "a boolean")
    _opt(raw, "stream_options", dict, "an object")


def _opt(raw: dict[str, Any], key: str, kind: type, what: str) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidRequest(f"'{key}' must be {what}.", param=key)
    return value


def _items(value: Any) -> tuple[JsonObject, ...]:
    if isinstance(value, str):
        return (text_item(value),)
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' must be a string or a non-empty list of items.", param="input"
        )
    to_messages(value)  # validates every item, naming its path
    return tuple(value)


def _limit(raw: dict[str, Any]) -> int | None:
    value = _opt(raw, "max_output_tokens", int, "an integer")
    if value is not None and value < 1:
        raise InvalidRequest("'max_output_tokens' must be at least 1.", param="max_output_tokens")
    return value  # type: ignore[no-any-return]


def _number(raw: dict[str, Any], key: str, top: float) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= top:
        raise InvalidRequest(f"'{key}' must be a number between 0 and {top:g}.", param=key)
    return float(value)


def _metadata(raw: dict[str, Any]) -> dict[str, str] | None:
    value = _opt(raw, "metadata", dict, "an object")
    if value is not None and not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest("'metadata' values must be strings.", param="metadata")
    return value  # type: ignore[no-any-return]


def _effort(reasoning: dict[str, Any]) -> str | None:
    effort = reasoning.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise InvalidRequest(
            f"'reasoning.effort' must be one of {', '.join(_EFFORTS)}.", param="reasoning.effort"
        )
    return effort


def _builtin(kind: Any, path: str) -> UnsupportedFeature:
    return UnsupportedFeature(
        f"The built-in tool '{kind}' is not supported: keyroute cannot run it. "
        "Declare a function tool instead.",
        param=path,
    )


_TOOL_FIELDS = frozenset({"type", "name", "description", "parameters", "strict"})


def _tool(raw: Any, i: int) -> ToolSpec:
    path = f"tools[{i}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path)
    if raw.get("type") != "function":
        raise _builtin(raw.get("type"), f"{path}.type")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{path}.name' must be a non-empty string.", param=f"{path}.name")
    parameters = raw.get("parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise InvalidRequest(f"'{path}.parameters' must be an object.", param=f"{path}.parameters")
    description = raw.get("description")
    strict = raw.get("strict")
    return ToolSpec(
        name=name,
        description=description if isinstance(description, str) else None,
        parameters=parameters,
        strict=strict if isinstance(strict, bool) else None,
        extra={k: v for k, v in raw.items() if k not in _TOOL_FIELDS},
    )


def _tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if value in ("auto", "none", "required"):
        return ToolChoice(mode=value)
    if isinstance(value, dict) and value.get("type") == "function":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("'tool_choice.name' must be a string.", param="tool_choice.name")
        return ToolChoice(mode="tool", name=name)
    if isinstance(value, dict) and value.get("type") == "allowed_tools":
        raise UnsupportedFeature(
            "tool_choice 'allowed_tools' is not supported by keyroute.", param="tool_choice.type"
        )
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        raise _builtin(value["type"], "tool_choice.type")
    raise InvalidRequest(
        "'tool_choice' must be auto, none, required or a function choice.", param="tool_choice"
    )


def _format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("'text.format' must be an object.", param="text.format")
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(type=kind)
    if kind != "json_schema":
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema.",
            param="text.format.type",
        )
    schema = value.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest("'text.format.schema' must be an object.", param="text.format.schema")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'text.format.name' must be a string.", param="text.format.name")
    strict, description = value.get("strict"), value.get("description")
    return ResponseFormat(
        type="json_schema",
        name=name,
        schema=schema,
        strict=strict if isinstance(strict, bool) else None,
        description=description if isinstance(description, str) else None,
    )
