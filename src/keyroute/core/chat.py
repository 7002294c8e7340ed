"""The canonical chat request: what any inbound wire format can say, in one shape.

Invariants:
- Messages keep the client's order; ``system`` and ``developer`` messages stay where the client put
  them (hoisting is a provider's business).
- Tool-call arguments are JSON *text* exactly as produced by the model; nothing re-serialises them.
- Fields a codec could not map are kept in ``ChatRequest.passthrough`` with the wire format they
  came from; only a provider speaking that same format may forward them, every other provider
  rejects them by name (no silent drops). The one exception is ``ChatRequest.optional``: keys of
  ``passthrough`` the inbound codec knows to tune only the source provider (context editing,
  cache hints) without changing any answer; another format's provider leaves them out.
- The same holds one level down for a tool: ``ToolSpec.extra`` keeps a tool's fields no codec
  maps, ``ToolSpec.optional`` names those of them another format may leave out.
- ``provider_headers`` are request headers meant for a provider of the source format
  (``anthropic-beta``); only such a provider forwards them. They select provider features that
  no other provider has, so elsewhere they have no meaning and are not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from keyroute.core.json import JsonObject, JsonValue

Role: TypeAlias = Literal["system", "developer", "user", "assistant", "tool"]
WireFormat: TypeAlias = Literal["openai", "openai_responses", "anthropic", "gemini"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheControl:
    """A prompt-cache breakpoint requested by the client (Anthropic ``cache_control``)."""

    ttl: Literal["5m", "1h"] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextPart:
    kind: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagePart:
    """An image, either by URL or inline (``data`` is base64 text, ``media_type`` its MIME type)."""

    kind: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkingPart:
    """Model reasoning that must be replayed verbatim (Anthropic thinking blocks)."""

    kind: Literal["thinking"] = "thinking"
    text: str
    signature: str | None = None
    redacted: bool = False
    origin: str | None = None
    """The model that wrote it, when known: ``provider/model`` (for OpenAI, then ``#`` and the
    reasoning item's id). A provider replays only reasoning its own models wrote: another
    model's signature cannot be verified."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaquePart:
    """A content part only its own wire format understands (audio, file, document...).

    ``source`` names that format; providers of another format reject it by ``part_type``.
    """

    kind: Literal["opaque"] = "opaque"
    source: WireFormat
    part_type: str
    payload: JsonObject


ContentPart: TypeAlias = TextPart | ImagePart | ThinkingPart | OpaquePart


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One call the assistant made. ``arguments`` is JSON text.

    ``signature`` carries provider state that must be replayed with the call
    (Gemini ``thoughtSignature``).
    """

    id: str
    name: str
    arguments: str
    signature: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One turn. ``content`` is empty for an assistant turn that only calls tools.

    A ``tool`` message answers ``tool_call_id``; ``is_error`` marks a failed tool run.
    ``refusal`` is an earlier assistant refusal replayed by the client; formats without a refusal
    field carry it as assistant text.
    """

    role: Role
    content: tuple[ContentPart, ...] = ()
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False
    refusal: str | None = None
    reasoning_effort: str | None = None
    """An effort set on this turn (Anthropic's per-turn ``output_config``): it governs the
    answers from this turn on, over the request's own ``reasoning_effort``."""
    extra: Mapping[str, JsonValue] = field(default_factory=dict)
    """Fields of the source format on this turn with no canonical shape: forwarded by a provider
    of that format, refused by name (``messages[1].<field>``) by any other."""

    def text(self) -> str:
        """The concatenated text parts."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """A function the model may call.

    ``extra`` holds the tool's fields of the source format that have no canonical shape
    (``defer_loading``...): a provider of that format forwards them, any other provider refuses
    them by name (``tools[0].<field>``) unless the field is in ``optional``.
    """

    name: str
    description: str | None = None
    parameters: JsonObject = field(default_factory=dict)
    strict: bool | None = None
    cache_control: CacheControl | None = None
    extra: Mapping[str, JsonValue] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextCacheRef:
    """A provider-side cache holding a request's leading part: its tools, tool choice, system
    messages and its first ``messages`` messages (system messages included), under ``name``
    (Gemini's ``cachedContents/...``)."""

    name: str
    messages: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolChoice:
    """``auto``, ``none``, ``required`` (any tool) or ``tool`` (the one named)."""

    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseFormat:
    """``text``, ``json_object`` (any JSON) or ``json_schema`` (``schema`` must hold)."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: JsonObject | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """A chat request in canonical form. ``model`` is the client's id (``provider/model``)."""

    model: str
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    max_tokens_name: str | None = None  # the client's own field name, for a same-format provider
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    thinking: Literal["enabled", "adaptive", "disabled"] | None = None
    """Anthropic-style thinking switch: ``adaptive`` lets the model decide how much to think."""
    thinking_display: Literal["summarized", "omitted"] | None = None
    """Whether the client wants the thinking text back (``omitted``: only its signature)."""
    metadata: Mapping[str, str] | None = None
    passthrough: Mapping[str, JsonValue] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    provider_headers: Mapping[str, str] = field(default_factory=dict)
    source_format: WireFormat = "openai"
    prompt_cache_key: str | None = None
    """A prompt-cache routing key keyroute chose (``keyroute.caching``), sent by a provider that
    takes one (OpenAI's ``prompt_cache_key``) unless the client sent its own; no codec sets it."""
    context_cache: ContextCacheRef | None = None
    """An explicit provider context cache keyroute created for this request's leading part
    (``keyroute.caching.explicit``): a provider that takes one (Gemini's ``cachedContent``)
    sends its name instead of that part; no codec decodes it from a client."""

    def effort(self) -> str | None:
        """The reasoning effort that governs the answer: the last turn's, else the request's."""
        for message in reversed(self.messages):
            if message.reasoning_effort is not None:
                return message.reasoning_effort
        return self.reasoning_effort

    def system_text(self) -> str:
        """All system and developer messages, in order, joined by blank lines."""
        return "\n\n".join(m.text() for m in self.messages if m.role in ("system", "developer"))
