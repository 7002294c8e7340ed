"""Responses API items <-> canonical messages.

Input items (``message``, ``function_call``, ``function_call_output``, ``reasoning``) become
canonical ``Message``s; output items are built from a ``ChatResponse``. The same item shapes are
what keyroute stores for ``previous_response_id``, so a stored conversation replays through this
module to any provider.

Invariants:
- Item order is kept. Consecutive ``function_call`` items (and the assistant text and reasoning
  before them) join one assistant turn, as chat formats require; a ``function_call_output`` is
  one ``tool`` turn answering its ``call_id``.
- A ``reasoning`` item joins the next assistant turn as a ``ThinkingPart``: its summary (or
  content) text, with ``encrypted_content`` as the provider's signature, so that a provider that
  needs its reasoning back (Anthropic's thinking signatures) gets it verbatim.
- The ``encrypted_content`` keyroute hands out names the model that wrote the reasoning
  (``seal``: ``kr1.<base64url of ThinkingPart.origin>.<signature>``), so that a later turn
  replays it only to a model of that provider, whichever provider serves the turns between;
  one without that prefix (from before, or made by the client) has no known origin.
- An item or part keyroute cannot send anywhere (``item_reference``, ``input_file``, a built-in
  tool's call) is refused by name with its path (``input[2].type``), never dropped.
- Every problem is an ``InvalidRequest`` whose ``param`` is the JSON path of the bad field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from keyroute.core.chat import ContentPart, ImagePart, Message, TextPart, ThinkingPart, ToolCall
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.core.json import JsonObject
from keyroute.core.response import ChatResponse

_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")

REDACTED = "redacted:"  # marks a redacted thinking block carried as ``encrypted_content``
_SEAL = "kr1."  # an ``encrypted_content`` that names the model that wrote it (``seal``)
_ROLES = ("user", "assistant", "system", "developer")


def text_item(text: str) -> JsonObject:
    """A string ``input`` as the one user message item it stands for."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _need(value: Any, kind: type, path: str, what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InvalidRequest(f"'{path}' must be {what}.", param=path)
    return value


@dataclass
class _Builder:
    """Accumulates messages; the open assistant turn collects text, reasoning and calls."""

    messages: list[Message] = field(default_factory=list)
    content: list[ContentPart] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    refusal: str | None = None
    open: bool = False

    def flush(self) -> None:
        if self.open:
            self.messages.append(
                Message(
                    role="assistant",
                    content=tuple(self.content),
                    tool_calls=tuple(self.calls),
                    refusal=self.refusal,
                )
            )
        self.content, self.calls, self.refusal, self.open = [], [], None, False

    def assistant(self) -> None:
        if self.open and self.calls:  # text after calls starts a new turn
            self.flush()
        self.open = True


def to_messages(items: list[Any], where: str = "input") -> list[Message]:
    """Input items (already a JSON list) -> canonical messages."""
    b = _Builder()
    for i, raw in enumerate(items):
        path = f"{where}[{i}]"
        item = _need(raw, dict, path, "an object")
        kind = item.get("type", "message")
        if kind == "message":
            _message(b, item, path)
        elif kind == "function_call":
            b.open = True  # calls join the open assistant turn, or start one
            b.calls.append(
                ToolCall(
                    id=_need(item.get("call_id"), str, f"{path}.call_id", "a string"),
                    name=_need(item.get("name"), str, f"{path}.name", "a string"),
                    arguments=_need(item.get("arguments"), str, f"{path}.arguments", "a string"),
                )
            )
        elif kind == "function_call_output":
            b.flush()
            b.messages.append(_tool_result(item, path))
        elif kind == "reasoning":
            b.assistant()
            b.content.append(_thinking(item, path))
        else:
            raise UnsupportedFeature(
                f"Input items of type '{kind}' are not supported by keyroute.",
                param=f"{path}.type",
            )
    b.flush()
    return b.messages


def _message(b: _Builder, item: dict[str, Any], path: str) -> None:
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequest(
            f"'{path}.role' must be one of {', '.join(_ROLES)}.", param=f"{path}.role"
        )
    content = item.get("content")
    if role == "assistant":
        b.assistant()
        if isinstance(content, str):
            b.content.append(TextPart(text=content))
            return
        for j, part in enumerate(_need(content, list, f"{path}.content", "a string or a list")):
            ppath = f"{path}.content[{j}]"
            part = _need(part, dict, ppath, "an object")
            if part.get("type") in ("output_text", "input_text"):
                b.content.append(
                    TextPart(text=_need(part.get("text"), str, ppath + ".text", "a string"))
                )
            elif part.get("type") == "refusal":
                b.refusal = _need(part.get("refusal"), str, ppath + ".refusal", "a string")
            else:
                raise UnsupportedFeature(
                    f"Assistant content of type '{part.get('type')}' is not supported.",
                    param=f"{ppath}.type",
                )
        return
    b.flush()
    if isinstance(content, str):
        parts: tuple[ContentPart, ...] = (TextPart(text=content),)
    else:
        parts = tuple(
            _input_part(p, f"{path}.content[{j}]")
            for j, p in enumerate(_need(content, list, f"{path}.content", "a string or a list"))
        )
    b.messages.append(Message(role=role, content=parts))


def _input_part(raw: Any, path: str) -> ContentPart:
    part = _need(raw, dict, path, "an object")
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return TextPart(text=_need(part.get("text"), str, f"{path}.text", "a string"))
    if kind == "input_image":
        if part.get("file_id") is not None:
            raise UnsupportedFeature(
                "Images by 'file_id' are not supported (keyroute has no Files API); "
                "send 'image_url' with a URL or a data URL.",
                param=f"{path}.file_id",
            )
        url = _need(part.get("image_url"), str, f"{path}.image_url", "a string")
        detail = part.get("detail")
        if detail not in (None, "auto", "low", "high"):
            raise InvalidRequest(
                f"'{path}.detail' must be auto, low or high.", param=f"{path}.detail"
            )
        if url.startswith("data:"):
            head, sep, data = url.partition(";base64,")
            if not sep or not _MEDIA_TYPE.fullmatch(head[5:]):
                raise InvalidRequest(
                    "Image data URLs must look like 'data:<mime>;base64,<data>'.",
                    param=f"{path}.image_url",
                )
            return ImagePart(data=data, media_type=head[5:], detail=detail)
        return ImagePart(url=url, detail=detail)
    raise UnsupportedFeature(
        f"Input content of type '{kind}' is not supported by keyroute.", param=f"{path}.type"
    )


def _tool_result(item: dict[str, Any], path: str) -> Message:
    call_id = _need(item.get("call_id"), str, f"{path}.call_id", "a string")
    output = item.get("output")
    if isinstance(output, str):
        content: tuple[ContentPart, ...] = (TextPart(text=output),)
    else:
        content = tuple(
            _input_part(p, f"{path}.output[{j}]")
            for j, p in enumerate(_need(output, list, f"{path}.output", "a string or a list"))
        )
    return Message(role="tool", tool_call_id=call_id, content=content)


def _thinking(item: dict[str, Any], path: str) -> ThinkingPart:
    texts: list[str] = []
    for key, kind in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key) or []
        for j, p in enumerate(_need(parts, list, f"{path}.{key}", "a list")):
            p = _need(p, dict, f"{path}.{key}[{j}]", "an object")
            if p.get("type") == kind:
                texts.append(_need(p.get("text"), str, f"{path}.{key}[{j}].text", "a string"))
        if texts:
            break
    sealed = item.get("encrypted_content")
    if sealed is None:
        return ThinkingPart(text="".join(texts))
    content, origin = unseal(_need(sealed, str, f"{path}.encrypted_content", "a string"))
    if content.startswith(REDACTED):
        return ThinkingPart(text=content.removeprefix(REDACTED), redacted=True, origin=origin)
    return ThinkingPart(text="".join(texts), signature=content, origin=origin)


def seal(content: str, origin: str | None) -> str:
    """``encrypted_content`` for a client: ``content`` (a signature, or redacted reasoning) and
    the model that wrote it, so a later turn knows which provider can verify it."""
    if origin is None:
        return content
    name = base64.urlsafe_b64encode(origin.encode()).decode().rstrip("=")
    return f"{_SEAL}{name}.{content}"


def unseal(encrypted: str) -> tuple[str, str | None]:
    """``seal`` undone: (content, origin); a value keyroute did not seal has no origin."""
    if not encrypted.startswith(_SEAL):
        return encrypted, None
    name, sep, content = encrypted.removeprefix(_SEAL).partition(".")
    try:
        origin = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return encrypted, None
    return (content, origin) if sep and origin else (encrypted, None)


# -- output items ------------------------------------------------------------------------------


def reasoning_item(item_id: str, part: ThinkingPart, origin: str | None = None) -> JsonObject:
    """``part`` as an output item; ``origin``: the model that answered, for a part that does
    not say which model wrote it."""
    origin = part.origin or origin
    if part.redacted:
        return {
            "type": "reasoning",
            "id": item_id,
            "summary": [],
            "encrypted_content": seal(REDACTED + part.text, origin),
        }
    summary: list[Any] = [{"type": "summary_text", "text": part.text}] if part.text else []
    item: JsonObject = {"type": "reasoning", "id": item_id, "summary": summary}
    if part.signature is not None:
        item["encrypted_content"] = seal(part.signature, origin)
    return item


def message_item(item_id: str, text: str | None, refusal: str | None, status: str) -> JsonObject:
    content: list[Any] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(item_id: str, call: ToolCall, status: str) -> JsonObject:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def output_items(resp: ChatResponse, ids: list[str], origin: str | None = None) -> list[JsonObject]:
    """A whole answer's output items; ``ids`` supplies one fresh item id per item; ``origin``
    (``provider/model``) is the model that answered."""
    taken = iter(ids)
    items = [reasoning_item(next(taken), p, origin) for p in resp.thinking]
    if resp.text or resp.refusal:
        items.append(message_item(next(taken), resp.text, resp.refusal, "completed"))
    items.extend(call_item(next(taken), c, "completed") for c in resp.tool_calls)
    return items
