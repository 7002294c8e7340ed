"""``ChatRequest`` -> a ``POST /v1/responses`` body for OpenAI itself (the Responses API upstream).

A request that arrived in the Responses format and goes to an OpenAI key is sent to OpenAI's own
``/v1/responses``, so what OpenAI offers only there (reasoning summaries, ``text.verbosity``,
``include``) keeps working; every other provider gets it through its own codec.

Invariants:
- keyroute keeps the conversation state (``previous_response_id`` is expanded before the
  request gets here, whichever provider served the earlier turns), so the body always carries
  the whole conversation and ``store: false``: nothing is left at OpenAI that keyroute cannot
  delete.
- Fields keyroute does not map (``ChatRequest.passthrough``) travel only when the request itself
  arrived in the Responses format; from any other format they are refused by name, as the
  chat-completions codec does.
- Reasoning of earlier turns is replayed only when OpenAI wrote it (a ``ThinkingPart`` whose
  ``origin`` is an OpenAI model, with the reasoning item id and its ``encrypted_content``);
  another model's reasoning is signed for that model and is left out.
- Tool-call arguments and a tool's JSON schema go out byte for byte as the client sent them.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from keyroute.core.chat import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ThinkingPart,
    ToolChoice,
    ToolSpec,
)
from keyroute.core.errors import UnsupportedFeature

WIRE_FORMAT: Final = "openai_responses"
PROVIDER: Final = "openai"


def encode_upstream_request(req: ChatRequest, model: str) -> dict[str, Any]:
    """The body to send to ``{base_url}/responses`` for ``req`` on OpenAI model ``model``."""
    native = req.source_format == WIRE_FORMAT
    _refuse(req, native)
    body: dict[str, Any] = {"model": model, "input": _input(req.messages), "store": False}
    optional: dict[str, Any] = {
        "temperature": req.temperature,
        "top_p": req.top_p,
        "max_output_tokens": req.max_tokens,
        "parallel_tool_calls": req.parallel_tool_calls,
        "metadata": dict(req.metadata) if req.metadata is not None else None,
        "safety_identifier": req.user,
    }
    body.update((k, v) for k, v in optional.items() if v is not None)
    if req.tools:
        body["tools"] = [_tool(t, i, native) for i, t in enumerate(req.tools)]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice)
    text = _text(req, native)
    if text:
        body["text"] = text
    reasoning = _reasoning(req)
    if reasoning:
        body["reasoning"] = reasoning
    if req.stream:
        body["stream"] = True
    if native:
        for key, value in req.passthrough.items():
            if key != "text.verbosity":
                body[key] = value
    if req.prompt_cache_key is not None:
        body.setdefault("prompt_cache_key", req.prompt_cache_key)  # the client's own wins
    return body


def _refuse(req: ChatRequest, native: bool) -> None:
    """What OpenAI's Responses API cannot express, refused by name."""
    if not native:
        for field in req.passthrough:
            if field not in req.optional:
                raise UnsupportedFeature(
                    f"The field '{field}' of the {req.source_format} format has no equivalent on "
                    f"provider '{PROVIDER}'.",
                    param=field,
                )
    if req.top_k is not None:
        raise UnsupportedFeature(
            f"'top_k' is not supported by provider '{PROVIDER}'.", param="top_k"
        )
    if req.thinking_budget is not None:
        raise UnsupportedFeature(
            f"A thinking token budget is not supported by provider '{PROVIDER}'; "
            "use 'reasoning.effort'.",
            param="thinking",
        )
    if req.stop:
        raise UnsupportedFeature(
            f"Stop sequences are not supported by the Responses API of provider '{PROVIDER}'.",
            param="stop",
        )


def _input(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        for key in m.extra:
            raise UnsupportedFeature(
                f"The message field 'messages[{i}].{key}' has no equivalent on provider "
                f"'{PROVIDER}'.",
                param=f"messages[{i}].{key}",
            )
        if m.role == "tool":
            items.append(_tool_output(m, i))
        elif m.role == "assistant":
            items.extend(_assistant(m, i))
        else:
            content = [_part(p, f"messages[{i}].content[{j}]") for j, p in enumerate(m.content)]
            items.append({"type": "message", "role": m.role, "content": [c for c in content if c]})
    return items


def _part(p: ContentPart, where: str) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        return {"type": "input_text", "text": p.text}
    if isinstance(p, ImagePart):
        url = p.url if p.url is not None else f"data:{p.media_type};base64,{p.data}"
        return {"type": "input_image", "image_url": url, "detail": p.detail or "auto"}
    if isinstance(p, OpaquePart):
        if p.source not in (WIRE_FORMAT, "openai"):
            raise UnsupportedFeature(
                f"Content of type '{p.part_type}' is not supported by provider '{PROVIDER}'.",
                param=where,
            )
        return {"type": p.part_type, **p.payload}
    return None  # reasoning in a user turn has no meaning


def _assistant(m: Message, i: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    for j, p in enumerate(m.content):
        if isinstance(p, ThinkingPart):
            reasoning = _replayed_reasoning(p)
            if reasoning is not None:
                items.append(reasoning)
        elif isinstance(p, TextPart):
            if p.text:
                content.append({"type": "output_text", "text": p.text})
        else:
            raise UnsupportedFeature(
                f"Assistant content of kind '{p.kind}' is not supported by provider '{PROVIDER}'.",
                param=f"messages[{i}].content[{j}]",
            )
    if m.refusal is not None:
        content.append({"type": "refusal", "refusal": m.refusal})
    if content:
        items.append({"type": "message", "role": "assistant", "content": content})
    items.extend(
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
        for c in m.tool_calls
    )
    return items


def _replayed_reasoning(p: ThinkingPart) -> dict[str, Any] | None:
    """An earlier OpenAI reasoning item, when this part is one (see ``reasoning_origin``)."""
    origin = reasoning_origin(p)
    if origin is None or p.signature is None:
        return None
    summary = [{"type": "summary_text", "text": p.text}] if p.text else []
    return {"type": "reasoning", "id": origin, "summary": summary, "encrypted_content": p.signature}


def reasoning_origin(p: ThinkingPart) -> str | None:
    """The OpenAI reasoning item id of ``p`` when OpenAI wrote it, else ``None``.

    ``ThinkingPart.origin`` is ``provider/model`` and, for OpenAI, ``#`` and the item id.
    """
    if p.origin is None or p.redacted:
        return None
    where, sep, item = p.origin.partition("#")
    if not sep or not item or where.split("/", 1)[0] != PROVIDER:
        return None
    return item


def _tool_output(m: Message, i: int) -> dict[str, Any]:
    if any(not isinstance(p, TextPart | ImagePart) for p in m.content):
        raise UnsupportedFeature(
            f"Tool results may hold only text and images for provider '{PROVIDER}'.",
            param=f"messages[{i}].content",
        )
    output: str | list[dict[str, Any]]
    if all(isinstance(p, TextPart) for p in m.content):
        output = m.text()
        if m.is_error:
            output = f'{{"error": {_json_text(output)}}}'
    else:
        output = [
            part
            for j, p in enumerate(m.content)
            if (part := _part(p, f"messages[{i}].content[{j}]")) is not None
        ]
    return {"type": "function_call_output", "call_id": m.tool_call_id, "output": output}


def _json_text(text: str) -> str:
    """``text`` as JSON: itself when it is JSON already, else a JSON string."""
    try:
        msgspec.json.decode(text)
    except msgspec.DecodeError:
        return msgspec.json.encode(text).decode()
    return text


_TOOL_FIELDS: Final = ("name", "description", "parameters", "strict")


def _tool(t: ToolSpec, i: int, native: bool) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "function", "name": t.name, "parameters": t.parameters}
    if t.description is not None:
        tool["description"] = t.description
    if t.strict is not None:
        tool["strict"] = t.strict
    for key, value in t.extra.items():
        if native:
            tool[key] = value
        elif key not in t.optional:
            raise UnsupportedFeature(
                f"The tool field 'tools[{i}].{key}' has no equivalent on provider '{PROVIDER}'.",
                param=f"tools[{i}].{key}",
            )
    return tool


def _tool_choice(c: ToolChoice) -> Any:
    if c.mode == "tool":
        return {"type": "function", "name": c.name}
    return c.mode


def _text(req: ChatRequest, native: bool) -> dict[str, Any]:
    text: dict[str, Any] = {}
    f = req.response_format
    if f is not None and f.type == "json_schema":
        fmt: dict[str, Any] = {"type": "json_schema", "name": f.name, "schema": f.schema}
        if f.strict is not None:
            fmt["strict"] = f.strict
        if f.description is not None:
            fmt["description"] = f.description
        text["format"] = fmt
    elif f is not None:
        text["format"] = {"type": f.type}
    if native and "text.verbosity" in req.passthrough:
        text["verbosity"] = req.passthrough["text.verbosity"]
    return text


def _reasoning(req: ChatRequest) -> dict[str, Any]:
    if req.thinking == "disabled":
        raise UnsupportedFeature(
            f"Provider '{PROVIDER}' cannot switch reasoning off; leave 'thinking' out or set "
            "a low effort.",
            param="thinking.type",
        )
    reasoning: dict[str, Any] = {}
    effort = req.effort()
    if effort is not None:
        reasoning["effort"] = effort
    if req.thinking_display == "summarized":
        reasoning["summary"] = "auto"
    return reasoning
