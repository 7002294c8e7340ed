"""Canonical ``ChatRequest`` -> Anthropic Messages request body (what the provider sends).

Rules (each one a bug other gateways shipped, see ``providers.md`` §11-12):

- ``max_tokens`` is always set: the client's value, else the provider's default.
- Every ``system`` / ``developer`` message, wherever it stands, becomes a top-level ``system`` text
  block, in order, one block per text part (so each keeps its ``cache_control``). Except for a
  request that came in Anthropic's format: there a ``system`` turn that stood inside
  ``messages`` after the conversation began stays there (``role: "system"``), as the client sent it.
- Consecutive messages of the same Anthropic role are merged into one turn (the API would merge
  them anyway); in a user turn every ``tool_result`` block comes first, then the user's own blocks.
- No empty text block is ever emitted; a turn left without blocks is omitted.
- Tool-call ``arguments`` (JSON text) become the ``input`` object; bad JSON is the client's error.
- ``temperature`` above 1 and every field Anthropic cannot express raise ``UnsupportedFeature``
  naming the field; nothing is clamped or silently dropped. Two kinds of *model state* from another
  provider are dropped on purpose because Anthropic cannot verify them: thinking parts without a
  signature and Gemini tool-call signatures.
- ``response_format`` ``json_object`` becomes a structured output with the schema
  ``{"type": "object"}``: any JSON object, which is what ``json_object`` promises.
- Pass-through fields (and a tool's ``extra`` fields) are merged verbatim only when the request
  came in Anthropic format; a key that collides with a mapped field is an error rather than a
  silent overwrite. From another format they are refused by name, except those the source marked
  optional (changing no answer), which are left out.
- ``thinking``: ``adaptive`` / ``disabled`` as such, a budget as ``enabled``; ``display`` kept.
- A turn's own fields (``Message.extra``, a per-turn effort as ``output_config``) stay on that
  turn for Anthropic clients; from another format they are refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.core.json import JsonObject, JsonValue

PROVIDER = "anthropic"
EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:(?P<media_type>[^;,]+);base64,(?P<data>.*)$", re.DOTALL)


def unsupported(param: str, what: str | None = None) -> UnsupportedFeature:
    """The error for a field Anthropic cannot express."""
    return UnsupportedFeature(
        f"{what or repr(param)} is not supported by provider anthropic", param=param
    )


def encode_request(req: ChatRequest, model: str, *, default_max_tokens: int) -> JsonObject:
    """Build the Messages API body for ``req`` (without ``stream``: the provider adds it).

    Args:
        req: The canonical request.
        model: The upstream model name (``Target.model``).
        default_max_tokens: ``max_tokens`` to send when the client gave none.

    Raises:
        UnsupportedFeature: A field Anthropic cannot express, named in ``param``.
        InvalidRequest: The request is inconsistent (bad tool-call JSON, a tool message without id).
    """
    _reject_inexpressible(req)
    body: JsonObject = {
        "model": model,
        "max_tokens": req.max_tokens if req.max_tokens is not None else default_max_tokens,
    }
    kept = _in_place(req.messages, req.source_format == PROVIDER)
    system = _system_blocks(req.messages, kept)
    if system:
        body["system"] = system
    body["messages"] = _turns(req.messages, kept, req.source_format == PROVIDER)
    _sampling(req, body)
    if req.tools:
        native = req.source_format == PROVIDER
        body["tools"] = [_tool(t, i, native) for i, t in enumerate(req.tools)]
    choice = _tool_choice(req.tool_choice, req.parallel_tool_calls, bool(req.tools))
    if choice is not None:
        body["tool_choice"] = choice
    output_config = _output_config(req)
    if output_config:
        body["output_config"] = output_config
    thinking = _thinking(req)
    if thinking is not None:
        body["thinking"] = thinking
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    for key, value in req.passthrough.items():
        if req.source_format != PROVIDER:
            continue  # only optional fields get here (see _reject_inexpressible)
        if key in body:
            raise InvalidRequest(
                f"Pass-through field {key!r} collides with a mapped field", param=key
            )
        body[key] = value
    return body


def _reject_inexpressible(req: ChatRequest) -> None:
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(req, name) is not None:
            raise unsupported(name)
    if req.metadata:
        raise unsupported("metadata", "'metadata' (other than the end-user id)")
    if req.temperature is not None and req.temperature > 1:
        raise UnsupportedFeature(
            f"temperature {req.temperature} is above 1, the maximum of provider anthropic "
            "(keyroute never clamps it)",
            param="temperature",
        )
    if req.reasoning_effort is not None and req.reasoning_effort not in EFFORTS:
        raise unsupported("reasoning_effort", f"reasoning_effort {req.reasoning_effort!r}")
    if req.source_format != PROVIDER:
        for key in req.passthrough:
            if key not in req.optional:
                raise unsupported(key, f"{key!r} (a {req.source_format} field)")


def _sampling(req: ChatRequest, body: JsonObject) -> None:
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)


def cache_control(cc: CacheControl | None, block: JsonObject) -> JsonObject:
    """``block`` with ``cache_control`` set when ``cc`` is given."""
    if cc is not None:
        marker: JsonObject = {"type": "ephemeral"}
        if cc.ttl is not None:
            marker["ttl"] = cc.ttl
        block["cache_control"] = marker
    return block


def _in_place(messages: tuple[Message, ...], native: bool) -> set[int]:
    """Indexes of the system turns that stay inside ``messages`` (see the module docstring)."""
    if not native:
        return set()
    started = False
    kept: set[int] = set()
    for i, message in enumerate(messages):
        if message.role not in ("system", "developer"):
            started = True
        elif started or message.extra or message.reasoning_effort is not None:
            kept.add(i)  # a turn's own fields exist only on turns from ``messages``
    return kept


def _system_blocks(messages: tuple[Message, ...], kept: set[int]) -> list[JsonValue]:
    blocks: list[JsonValue] = []
    for i, message in enumerate(messages):
        if message.role not in ("system", "developer") or i in kept:
            continue
        blocks.extend(_system_text(message, i))
    return blocks


def _system_text(message: Message, i: int) -> list[JsonValue]:
    _reject_name(message, i)
    blocks: list[JsonValue] = []
    for j, part in enumerate(message.content):
        if not isinstance(part, TextPart):
            raise unsupported(
                f"messages[{i}].content[{j}]", f"a {part.kind} part in a system message"
            )
        if part.text:
            blocks.append(cache_control(part.cache_control, {"type": "text", "text": part.text}))
    return blocks


def _reject_name(message: Message, i: int) -> None:
    if message.name is not None and message.role != "tool":
        raise unsupported(f"messages[{i}].name", "message 'name'")


@dataclass(slots=True)
class _Turn:
    role: str
    results: list[JsonValue] = field(default_factory=list)
    blocks: list[JsonValue] = field(default_factory=list)
    extra: JsonObject = field(default_factory=dict)


def _turn_extra(message: Message, i: int, native: bool) -> JsonObject:
    """The turn-level fields of ``message``: forwarded for Anthropic clients only."""
    extra: JsonObject = dict(message.extra)
    if message.reasoning_effort is not None:
        extra["output_config"] = {"effort": message.reasoning_effort}
    if extra and not native:
        key = next(iter(extra))
        raise unsupported(f"messages[{i}].{key}", f"the message field 'messages[{i}].{key}'")
    return extra


def _turns(messages: tuple[Message, ...], kept: set[int], native: bool) -> list[JsonValue]:
    turns: list[_Turn] = []
    for i, message in enumerate(messages):
        extra = _turn_extra(message, i, native)
        if i in kept:
            turns.append(_Turn("system", blocks=_system_text(message, i), extra=extra))
            continue
        if message.role in ("system", "developer"):
            continue
        _reject_name(message, i)
        role = "assistant" if message.role == "assistant" else "user"
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role))
        turn = turns[-1]
        turn.extra.update(extra)
        if message.role == "tool":
            turn.results.append(_tool_result(message, i))
        elif message.role == "assistant":
            turn.blocks.extend(_assistant_blocks(message, i))
        else:
            turn.blocks.extend(_parts(message.content, f"messages[{i}].content"))
    # A turn left empty (an assistant message with only "") vanishes; its neighbours then merge.
    merged: list[_Turn] = []
    for turn in turns:
        if not turn.results and not turn.blocks:
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1].results += turn.results
            merged[-1].blocks += turn.blocks
            merged[-1].extra.update(turn.extra)
        else:
            merged.append(turn)
    return [{"role": t.role, "content": t.results + t.blocks, **t.extra} for t in merged]


def _parts(parts: tuple[ContentPart, ...], path: str) -> list[JsonValue]:
    blocks: list[JsonValue] = []
    for j, part in enumerate(parts):
        block = _part(part, f"{path}[{j}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _part(part: ContentPart, path: str) -> JsonObject | None:
    if isinstance(part, TextPart):
        if not part.text:
            return None
        return cache_control(part.cache_control, {"type": "text", "text": part.text})
    if isinstance(part, ImagePart):
        return cache_control(part.cache_control, {"type": "image", "source": _source(part, path)})
    if isinstance(part, ThinkingPart):
        if part.origin is not None and part.origin.split("/", 1)[0] != PROVIDER:
            return None  # another provider's reasoning: signed for a model Anthropic is not
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.text}
        if not part.signature:
            return None  # unsigned reasoning from another model cannot be verified by Anthropic
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if part.source != PROVIDER:
        raise unsupported(path, f"a {part.source} {part.part_type!r} content part")
    return dict(part.payload)


def _source(image: ImagePart, path: str) -> JsonObject:
    if image.detail not in (None, "auto"):
        raise unsupported(f"{path}.detail", f"image detail {image.detail!r}")
    data, media_type = image.data, image.media_type
    if data is None and image.url is not None:
        match = _DATA_URL.match(image.url)
        if match is None:
            if image.url.startswith(("https://", "http://")):
                return {"type": "url", "url": image.url}
            raise InvalidRequest("Image URL must be http(s) or a base64 data URL", param=path)
        data, media_type = match["data"], match["media_type"]
    if data is None:
        raise InvalidRequest("Image has neither a URL nor data", param=path)
    if media_type not in IMAGE_MEDIA_TYPES:
        raise unsupported(f"{path}.media_type", f"image media type {media_type!r}")
    return {"type": "base64", "media_type": media_type, "data": data}


def _assistant_blocks(message: Message, i: int) -> list[JsonValue]:
    blocks = _parts(message.content, f"messages[{i}].content")
    if message.refusal:  # Anthropic has no refusal field: the refusal is what the model said
        blocks.append({"type": "text", "text": message.refusal})
    for j, call in enumerate(message.tool_calls):
        param = f"messages[{i}].tool_calls[{j}].function.arguments"
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments(call.arguments, param),
            }
        )
    return blocks


def arguments(text: str, param: str) -> JsonObject:
    """Tool-call ``arguments`` JSON text as an object (blank text is ``{}``).

    Raises:
        InvalidRequest: The text is not a JSON object; ``param`` names where it came from.
    """
    if not text.strip():
        return {}
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise InvalidRequest("Tool-call arguments are not valid JSON", param=param) from None
    if not isinstance(value, dict):
        raise InvalidRequest("Tool-call arguments must be a JSON object", param=param)
    return value


def _tool_result(message: Message, i: int) -> JsonObject:
    if message.tool_call_id is None:
        raise InvalidRequest("A tool message needs a tool_call_id", param=f"messages[{i}]")
    block: JsonObject = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    parts = message.content
    marker: CacheControl | None = None
    last = parts[-1] if parts else None
    if isinstance(last, TextPart) and last.cache_control is not None:
        # A marker on the result's last text is the same prefix end as one on the result itself.
        marker = last.cache_control
        parts = (*parts[:-1], TextPart(text=last.text))
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        if parts[0].text:
            block["content"] = parts[0].text
    else:
        content = _parts(parts, f"messages[{i}].content")
        if content:
            block["content"] = content
    if message.is_error:
        block["is_error"] = True
    return cache_control(marker, block)


def _tool(tool: ToolSpec, i: int, native: bool) -> JsonObject:
    out: JsonObject = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict is not None:
        out["strict"] = tool.strict
    for key, value in tool.extra.items():  # never a mapped field's name (see inbound.py)
        if native:
            out[key] = value
        elif key not in tool.optional:
            raise unsupported(f"tools[{i}].{key}", f"the tool field 'tools[{i}].{key}'")
    return cache_control(tool.cache_control, out)


def _thinking(req: ChatRequest) -> JsonObject | None:
    out: JsonObject
    if req.thinking in ("adaptive", "disabled"):
        out = {"type": req.thinking}
    elif req.thinking_budget is not None:
        out = {"type": "enabled", "budget_tokens": req.thinking_budget}
    else:
        return None
    if req.thinking_display is not None and req.thinking != "disabled":
        out["display"] = req.thinking_display
    return out


def _tool_choice(
    choice: ToolChoice | None, parallel: bool | None, has_tools: bool
) -> JsonObject | None:
    if choice is None:
        if parallel is False and has_tools:
            return {"type": "auto", "disable_parallel_tool_use": True}
        return None
    if choice.mode == "none":
        return {"type": "none"}
    out: JsonObject
    if choice.mode == "tool":
        if not choice.name:
            raise InvalidRequest("tool_choice of type tool needs a name", param="tool_choice")
        out = {"type": "tool", "name": choice.name}
    else:
        out = {"type": "any" if choice.mode == "required" else "auto"}
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _output_config(req: ChatRequest) -> JsonObject:
    out: JsonObject = {}
    effort = req.reasoning_effort if req.source_format == PROVIDER else req.effort()
    if effort is not None:
        out["effort"] = effort
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return out
    if fmt.description is not None:
        raise unsupported("response_format.description")
    if fmt.type == "json_object":
        out["format"] = {"type": "json_schema", "schema": {"type": "object"}}
    elif fmt.schema is None:
        raise InvalidRequest("json_schema needs a schema", param="response_format.schema")
    else:
        out["format"] = {"type": "json_schema", "schema": fmt.schema}
    return out
