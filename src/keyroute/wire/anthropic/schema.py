"""msgspec types for the Anthropic Messages wire format, and the one place JSON errors become ours.

Two families live here:

- *Upstream* shapes (``WireMessage``, ``WireUsage``, response blocks, stream events, error
  envelopes) decode what Anthropic sends back. They ignore unknown fields, so new API fields never
  break decoding.
- *Inbound* shapes (``*Param``) validate what a client sends to our ``/v1/messages`` endpoint. They
  forbid unknown fields so that nothing is silently dropped; the decoder routes unknown fields to
  pass-through or rejects them by name.

``convert`` and ``decode`` turn msgspec validation errors into ``InvalidRequest`` whose ``param``
is the JSON path of the bad value (``messages[0].content[1].source``).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec

from keyroute.core.errors import InvalidRequest

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Shared


class CacheControlParam(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


# ---------------------------------------------------------------------------------------------
# Upstream responses (lenient: unknown fields are ignored)


class CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class OutputTokensDetails(msgspec.Struct):
    thinking_tokens: int = 0


class WireUsage(msgspec.Struct):
    """``usage`` of a Message, or the cumulative ``usage`` of a ``message_delta``.

    Every counter is optional because ``message_delta`` may carry only ``output_tokens``.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: CacheCreation | None = None
    output_tokens_details: OutputTokensDetails | None = None
    service_tier: str | None = None


class WireMessage(msgspec.Struct):
    """A Message (the non-streamed answer, or ``message_start.message``).

    ``content`` stays raw: each block is decoded by its ``type`` so unknown blocks can be skipped.
    """

    id: str
    model: str
    type: str = ""  # "message"; anything else (an OpenAI completion has none) is refused
    content: list[msgspec.Raw] = []
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: WireUsage = msgspec.field(default_factory=WireUsage)


class BlockType(msgspec.Struct):
    """Just the discriminator of a content block, a delta or a stream event."""

    type: str


class TextBlock(msgspec.Struct):
    text: str


class ThinkingBlock(msgspec.Struct):
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(msgspec.Struct):
    data: str


class ToolUseBlock(msgspec.Struct):
    id: str
    name: str
    input: dict[str, Any] = {}


class MessageStartEvent(msgspec.Struct):
    message: WireMessage


class ContentBlockStartEvent(msgspec.Struct):
    index: int
    content_block: msgspec.Raw


class ContentBlockDeltaEvent(msgspec.Struct):
    index: int
    delta: msgspec.Raw


class ContentBlockStopEvent(msgspec.Struct):
    index: int


class TextDeltaWire(msgspec.Struct):
    text: str


class InputJsonDeltaWire(msgspec.Struct):
    partial_json: str


class ThinkingDeltaWire(msgspec.Struct):
    thinking: str


class SignatureDeltaWire(msgspec.Struct):
    signature: str


class MessageDeltaBody(msgspec.Struct):
    stop_reason: str | None = None
    stop_sequence: str | None = None


class MessageDeltaEvent(msgspec.Struct):
    delta: MessageDeltaBody = msgspec.field(default_factory=MessageDeltaBody)
    usage: WireUsage = msgspec.field(default_factory=WireUsage)


class ErrorObject(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class ErrorEnvelope(msgspec.Struct):
    """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""

    error: ErrorObject
    request_id: str | None = None


class TokenCount(msgspec.Struct):
    input_tokens: int


# ---------------------------------------------------------------------------------------------
# Inbound client requests (strict: unknown fields are errors or pass-through, never ignored)


class TextBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["text"]
    text: str
    cache_control: CacheControlParam | None = None


class Base64SourceParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["base64"]
    media_type: str
    data: str


class UrlSourceParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["url"]
    url: str


class ImageBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["image"]
    source: dict[str, Any]
    cache_control: CacheControlParam | None = None


class ThinkingBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlockParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool = False
    cache_control: CacheControlParam | None = None


class MessageParam(msgspec.Struct, forbid_unknown_fields=True):
    """A turn; ``system`` turns stand inside ``messages`` where the client put them."""

    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]]


class ToolParam(msgspec.Struct, forbid_unknown_fields=True):
    """A custom tool's mapped fields (its other fields are split off first: ``ToolSpec.extra``)."""

    name: str
    input_schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None
    cache_control: CacheControlParam | None = None
    type: Literal["custom"] | None = None


class ToolChoiceParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class JsonFormatParam(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["json_schema"]
    schema: dict[str, Any]


class OutputConfigParam(msgspec.Struct, forbid_unknown_fields=True):
    effort: str | None = None
    format: JsonFormatParam | None = None


class ThinkingParam(msgspec.Struct, forbid_unknown_fields=True):
    """``enabled`` (with ``budget_tokens``), ``adaptive`` or ``disabled``."""

    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None
    display: Literal["summarized", "omitted"] | None = None


class MetadataParam(msgspec.Struct, forbid_unknown_fields=True):
    user_id: str | None = None


class RequestParams(msgspec.Struct, forbid_unknown_fields=True):
    """The top-level fields keyroute maps; ``REQUEST_FIELDS`` lists them for the splitter."""

    model: str
    messages: list[MessageParam]
    max_tokens: int | None = None
    system: str | list[TextBlockParam] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    tool_choice: ToolChoiceParam | None = None


REQUEST_FIELDS = frozenset(RequestParams.__struct_fields__)


# ---------------------------------------------------------------------------------------------
# Errors with JSON paths


def fields_of(struct: type[msgspec.Struct]) -> frozenset[str]:
    """The wire field names of ``struct``."""
    return frozenset(struct.__struct_fields__)


def invalid_request(error: msgspec.MsgspecError, prefix: str = "") -> InvalidRequest:
    """An ``InvalidRequest`` naming the JSON path of ``error`` under ``prefix``."""
    text = str(error)
    message, sep, where = text.rpartition(" - at `")
    relative = where.rstrip("`")[1:] if sep else ""
    if not sep:
        message = text
    param = (prefix + relative).lstrip(".") or None
    shown = f"{message} (at {param})" if param else message
    return InvalidRequest(f"Invalid request body: {shown}", param=param)


def convert(obj: object, type_: type[T], path: str = "") -> T:
    """``msgspec.convert`` that raises ``InvalidRequest`` with the full path of the bad value."""
    try:
        return msgspec.convert(obj, type_)
    except msgspec.ValidationError as exc:
        raise invalid_request(exc, path) from None
