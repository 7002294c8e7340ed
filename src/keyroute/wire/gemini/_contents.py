"""Canonical messages -> Gemini ``systemInstruction`` and ``contents``.

Rules (the public contract is documented on ``keyroute.wire.gemini.request``):

- every ``system`` and ``developer`` message, wherever it stands, adds its text parts, in
  order, to ``systemInstruction.parts`` (Gemini has one system instruction);
- ``user`` -> role ``user``; ``assistant`` -> role ``model``, its tool calls as ``functionCall``
  parts carrying the call's ``thoughtSignature`` verbatim on the same part;
- consecutive ``tool`` messages become ONE ``user`` turn of ``functionResponse`` parts whose
  name comes from the earlier call with that id and whose ``response`` is always an object;
- empty text parts carry nothing and are skipped; a turn left without parts is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from keyroute.core.chat import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ThinkingPart,
    ToolCall,
)
from keyroute.core.errors import InvalidRequest, UnsupportedFeature

_DATA_URL: Final = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)

# The image types Gemini accepts, by file extension (https://ai.google.dev/gemini-api/docs/image-understanding).
_IMAGE_TYPES: Final = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
}


def encode_contents(req: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(system_parts, contents)`` for ``req.messages``."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    responses: list[dict[str, Any]] = []
    for i, message in enumerate(req.messages):
        if message.role != "tool" and responses:
            contents.append({"role": "user", "parts": responses})
            responses = []
        for key in message.extra:
            raise UnsupportedFeature(
                f"messages[{i}].{key}: this message field is not supported by gemini.",
                param=f"messages[{i}].{key}",
            )
        if message.role != "tool" and message.name is not None:
            raise UnsupportedFeature(
                f"messages[{i}].name: gemini has no participant names.", param=f"messages[{i}].name"
            )
        if message.role in ("system", "developer"):
            system.extend(_system_parts(message, i))
        elif message.role == "tool":
            responses.append(_function_response(message, i, call_names))
        else:
            parts = _parts(message.content, i, req.source_format)
            if message.refusal:  # Gemini has no refusal field: the refusal is what the model said
                parts.append({"text": message.refusal})
            parts.extend(_function_calls(message.tool_calls, i, call_names))
            if not parts:
                raise InvalidRequest(
                    f"messages[{i}] has no content: gemini needs at least one part per turn.",
                    param=f"messages[{i}].content",
                )
            role = "model" if message.role == "assistant" else "user"
            contents.append({"role": role, "parts": parts})
    if responses:
        contents.append({"role": "user", "parts": responses})
    return system, contents


def _system_parts(message: Message, i: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(message.content):
        if not isinstance(part, TextPart):
            raise UnsupportedFeature(
                f"messages[{i}].content[{j}]: a gemini system instruction holds text only, "
                f"not a '{part.kind}' part.",
                param=f"messages[{i}].content[{j}]",
            )
        if part.text:
            parts.append({"text": part.text})
    return parts


def _parts(content: Sequence[ContentPart], i: int, source: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        where = f"messages[{i}].content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image(part, where))
        elif isinstance(part, ThinkingPart):
            # Another provider's reasoning is signed for its own model: Gemini can neither verify
            # nor use it, so only thoughts that came from Gemini are replayed.
            if source == "gemini" if part.origin is None else _gemini_origin(part.origin):
                parts.append(_thought(part))
        else:
            parts.append(_opaque(part, where))
    return parts


def _gemini_origin(origin: str) -> bool:
    return origin.split("/", 1)[0] == "gemini"


def _thought(part: ThinkingPart) -> dict[str, Any]:
    encoded: dict[str, Any] = {"text": part.text, "thought": True}
    if part.signature is not None:
        encoded["thoughtSignature"] = part.signature
    return encoded


def _opaque(part: OpaquePart, where: str) -> dict[str, Any]:
    if part.source != "gemini":
        raise UnsupportedFeature(
            f"{where}: a {part.source} '{part.part_type}' part is not supported by gemini.",
            param=where,
        )
    return dict(part.payload)


def _image(part: ImagePart, where: str) -> dict[str, Any]:
    if part.data is not None:
        if not part.media_type:
            raise InvalidRequest(f"{where}: an inline image needs a media type.", param=where)
        return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
    if part.url is None:
        raise InvalidRequest(f"{where}: an image needs a URL or inline data.", param=where)
    inline = _DATA_URL.match(part.url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline.group(1), "data": inline.group(2)}}
    url = urlsplit(part.url)
    if url.scheme not in ("http", "https"):
        raise UnsupportedFeature(
            f"{where}: gemini takes images as data URLs or http(s) URLs, not '{url.scheme}:'.",
            param=where,
        )
    return {
        "fileData": {
            "mimeType": part.media_type or _guess_type(url.path, where),
            "fileUri": part.url,
        }
    }


def _guess_type(path: str, where: str) -> str:
    segment = path.rsplit("/", 1)[-1]
    extension = segment.rpartition(".")[2].lower() if "." in segment else ""
    mime = _IMAGE_TYPES.get(extension)
    if mime is None:
        raise UnsupportedFeature(
            f"{where}: gemini needs the MIME type of an image URL, and it cannot be told from "
            f"this URL's extension; use a .png, .jpeg, .webp, .heic or .heif URL, or a data URL.",
            param=where,
        )
    return mime


def _function_calls(
    calls: Sequence[ToolCall], i: int, call_names: dict[str, str]
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for j, call in enumerate(calls):
        args = _arguments(call.arguments, f"messages[{i}].tool_calls[{j}].function.arguments")
        part: dict[str, Any] = {"functionCall": {"id": call.id, "name": call.name, "args": args}}
        if call.signature is not None:
            # Gemini 3+ rejects a function call replayed without its signature, byte for byte.
            part["thoughtSignature"] = call.signature
        parts.append(part)
        call_names[call.id] = call.name
    return parts


def _arguments(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise InvalidRequest(f"{where} is not valid JSON.", param=where) from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be a JSON object for gemini.", param=where)
    return value


def _function_response(message: Message, i: int, call_names: dict[str, str]) -> dict[str, Any]:
    where = f"messages[{i}].tool_call_id"
    call_id = message.tool_call_id
    if call_id is None:
        raise InvalidRequest(f"{where} is missing.", param=where)
    name = call_names.get(call_id)
    if name is None:
        raise InvalidRequest(
            f"{where} '{call_id}' matches no earlier tool call; gemini needs the function name.",
            param=where,
        )
    if message.name is not None and message.name != name:
        raise InvalidRequest(
            f"messages[{i}].name '{message.name}' differs from the name '{name}' of the call "
            f"'{call_id}' it answers.",
            param=f"messages[{i}].name",
        )
    for j, part in enumerate(message.content):
        if not isinstance(part, TextPart):
            raise UnsupportedFeature(
                f"messages[{i}].content[{j}]: gemini tool results hold text only, "
                f"not a '{part.kind}' part.",
                param=f"messages[{i}].content[{j}]",
            )
    response = _response_object(message.text(), message.is_error)
    return {"functionResponse": {"id": call_id, "name": name, "response": response}}


def _response_object(text: str, is_error: bool) -> dict[str, Any]:
    """Gemini needs an object: a JSON object is used as is, anything else is wrapped.

    A failed tool run goes under ``error``, the key Gemini reads as error details.
    """
    try:
        value: Any = msgspec.json.decode(text)
    except msgspec.DecodeError:
        value = text
    if is_error:
        return {"error": value}
    if isinstance(value, dict):
        return value
    return {"result": value}
