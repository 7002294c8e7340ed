"""Typed msgspec schemas of the OpenAI chat-completions request (inbound validation).

Unknown top-level fields are not part of these structs: ``request.decode_request`` collects them
into ``ChatRequest.passthrough`` first, and a tool's unknown fields into ``ToolSpec.extra``.
Message and part structs list every field the official SDKs can send back (``annotations``,
``audio``, ``function_call``, and the stream and parse helpers' ``parsed``,
``tool_calls[].index``, ``function.parsed_arguments``), so echoing an SDK response message into
the next request validates. Those echoes are read-only copies of the answer: none is forwarded.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class CacheControlS(_Strict):
    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


class TextPartS(_Strict, tag_field="type", tag="text"):
    text: str
    cache_control: CacheControlS | None = None
    prompt_cache_breakpoint: dict[str, Any] | None = None


class ImageURLS(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePartS(_Strict, tag_field="type", tag="image_url"):
    image_url: ImageURLS
    cache_control: CacheControlS | None = None


class AudioPartS(_Strict, tag_field="type", tag="input_audio"):
    input_audio: dict[str, Any]


class FilePartS(_Strict, tag_field="type", tag="file"):
    file: dict[str, Any]


class RefusalPartS(_Strict, tag_field="type", tag="refusal"):
    refusal: str


UserPart = TextPartS | ImagePartS | AudioPartS | FilePartS
AssistantPart = TextPartS | RefusalPartS


class FunctionS(_Strict):
    name: str
    arguments: str
    parsed_arguments: Any = None  # the SDKs' parse helpers: ``arguments`` decoded, an echo


class ToolCallS(_Strict):
    id: str
    function: FunctionS
    type: Literal["function"] = "function"
    index: int | None = None  # the SDKs' stream helpers keep the delta's index, an echo


class SystemMessageS(_Strict, tag_field="role", tag="system"):
    content: str | list[TextPartS]
    name: str | None = None


class DeveloperMessageS(_Strict, tag_field="role", tag="developer"):
    content: str | list[TextPartS]
    name: str | None = None


class UserMessageS(_Strict, tag_field="role", tag="user"):
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessageS(_Strict, tag_field="role", tag="assistant"):
    content: str | list[AssistantPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallS] | None = None
    refusal: str | None = None
    # Echoed back by SDK users from a previous response; only empty values are accepted.
    function_call: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    annotations: list[Any] | None = None
    reasoning_content: str | None = None
    parsed: Any = None  # the SDKs' parse and stream helpers: ``content`` decoded, an echo


class ToolMessageS(_Strict, tag_field="role", tag="tool"):
    content: str | list[TextPartS]
    tool_call_id: str


MessageS = SystemMessageS | DeveloperMessageS | UserMessageS | AssistantMessageS | ToolMessageS


class FunctionDefS(_Strict):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolS(_Strict):
    """A tool's mapped fields (its other fields are split off first: ``ToolSpec.extra``)."""

    function: FunctionDefS
    type: Literal["function"] = "function"
    cache_control: CacheControlS | None = None


class NamedFunctionS(_Strict):
    name: str


class NamedToolChoiceS(_Strict):
    function: NamedFunctionS
    type: Literal["function"] = "function"


class JsonSchemaS(_Strict):
    name: str
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class ResponseFormatS(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaS | None = None


class StreamOptionsS(_Strict):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ChatRequestS(msgspec.Struct, omit_defaults=True):
    """The fields keyroute maps into the canonical model (all others are pass-through)."""

    model: str
    messages: list[MessageS]
    stream: bool | None = None
    stream_options: StreamOptionsS | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    tools: list[ToolS] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceS | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatS | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    metadata: dict[str, str] | None = None


KNOWN_FIELDS = frozenset(ChatRequestS.__struct_fields__)

TOOL_FIELDS = frozenset(ToolS.__struct_fields__)
