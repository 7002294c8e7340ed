"""Canonical ``ChatRequest`` -> Gemini ``generateContent`` body.

Mapping (every client field is mapped or refused by name; the few deliberate exceptions follow):

- Messages: see ``keyroute.wire.gemini._contents`` (system text hoisted in order into
  ``systemInstruction``; roles ``user``/``model``; ``functionCall`` parts with their
  ``thoughtSignature`` replayed verbatim; grouped, object-valued ``functionResponse`` parts).
  Images: a data URL or inline data -> ``inlineData``; an http(s) URL -> ``fileData`` with the
  MIME type from the extension (unknown -> ``UnsupportedFeature``). Image ``detail`` ``low`` or
  ``high`` -> ``generationConfig.mediaResolution`` (per request on Gemini, so mixed details
  are refused).
- ``generationConfig``: ``max_tokens`` -> ``maxOutputTokens``; ``temperature`` (0-2, else
  ``InvalidRequest``); ``top_p`` -> ``topP``; ``top_k`` -> ``topK``; ``stop`` ->
  ``stopSequences`` (at most 5); ``seed``; ``presence_penalty``/``frequency_penalty``;
  ``json_object`` -> ``responseMimeType: application/json``, ``json_schema`` adds
  ``responseJsonSchema`` (Gemini always constrains decoding to the schema, which satisfies
  ``strict`` either way). Only one candidate is ever asked for (no ``candidateCount``).
- Thinking: the governing effort (``ChatRequest.effort``: the last turn's, else the request's)
  ``minimal``/``low``/``medium``/``high`` ->
  ``thinkingConfig.thinkingLevel``; any other value is refused by name. ``thinking_budget`` ->
  ``thinkingBudget`` (a non-zero budget also sets ``includeThoughts``, since a client that sets
  a budget, as Anthropic's ``thinking`` does, expects the thinking back). Both at once is
  refused: Gemini accepts one or the other.
- Tools -> one ``functionDeclarations`` tool with ``parametersJsonSchema`` (full JSON Schema).
  ``tool_choice`` -> ``functionCallingConfig.mode``: ``auto`` -> ``AUTO``, ``none`` -> ``NONE``,
  ``required`` -> ``ANY``, a named tool -> ``ANY`` + ``allowedFunctionNames``. A ``strict``
  tool under ``auto`` (or no choice) -> ``VALIDATED``: the model may still answer in text, but
  its calls are decoded against the schema. ``parallel_tool_calls=False`` has no Gemini field:
  keyroute honours it on the answer, keeping the first call (``keyroute.providers.single_call``).
- Anthropic's ``thinking``: ``adaptive`` is Gemini's own dynamic thinking (nothing to send; the
  effort, if any, sets ``thinkingLevel``); ``disabled`` -> ``thinkingBudget: 0``; ``display``
  ``summarized`` -> ``includeThoughts`` (``omitted`` is Gemini's default).
- ``passthrough`` fields, a tool's ``extra`` fields and ``OpaquePart`` s travel only when they
  came from Gemini's own format (they are then merged verbatim); from any other format they are
  refused by name (``tools[0].<field>``), except those the source format marked optional
  (``ChatRequest.optional``, ``ToolSpec.optional``: Anthropic's ``context_management``,
  ``defer_loading``, ``eager_input_streaming``...), which change no answer and are left out.
  ``metadata`` has no Gemini equivalent and is refused.

Deliberate exceptions (dropped, because they change no output and refusing them would break
ordinary clients):

- ``user``: only an end-user id for the provider's abuse tracking; Gemini has no such field.
- ``cache_control`` on parts and tools: Gemini caches prompt prefixes implicitly; it has no
  breakpoints to place.
- ``ThinkingPart`` s from another provider: signed for the model that wrote them, meaningless
  to Gemini (only thoughts from a Gemini-format request are replayed).
- ``include_usage``: Gemini always reports usage.

An explicit context cache keyroute created (``ChatRequest.context_cache``) replaces the system
instruction, tools, tool config and the contents it holds with ``cachedContent`` (see
``keyroute.wire.gemini.cache``).
"""

from __future__ import annotations

from typing import Any, Final

from keyroute.core.chat import ChatRequest, ImagePart, ToolChoice, ToolSpec
from keyroute.core.errors import InvalidRequest, UnsupportedFeature
from keyroute.wire.gemini._contents import encode_contents

MAX_STOP_SEQUENCES: Final = 5
PREFIX_FIELDS: Final = ("systemInstruction", "tools", "toolConfig")
"""What an explicit context cache holds besides contents; a body naming a cache must not set
them (Gemini answers 400 ``INVALID_ARGUMENT``)."""
_THINKING_LEVELS: Final = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
_MEDIA_RESOLUTIONS: Final = {"low": "MEDIA_RESOLUTION_LOW", "high": "MEDIA_RESOLUTION_HIGH"}


def encode_request(req: ChatRequest) -> dict[str, Any]:
    """Build the JSON body of a ``generateContent`` / ``streamGenerateContent`` call.

    The model is not part of the body: it goes in the URL (see ``keyroute.providers.gemini``).

    Args:
        req: The canonical request.

    Returns:
        The body as a JSON-ready dict.

    Raises:
        InvalidRequest: The request is inconsistent (a tool result for an unknown call, a
            temperature out of range...). The ``param`` names the field.
        UnsupportedFeature: The request is valid but Gemini cannot honour a field of it.
    """
    _check_foreign_fields(req)
    system, contents = encode_contents(req)
    if not contents:
        raise InvalidRequest(
            "gemini needs at least one user or assistant message.", param="messages"
        )
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    config = _generation_config(req)
    if config:
        body["generationConfig"] = config
    if req.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    _declaration(t, req.source_format == "gemini") for t in req.tools
                ]
            }
        ]
    tool_config = _tool_config(req)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    for key, value in req.passthrough.items() if req.source_format == "gemini" else ():
        if key in body:
            raise InvalidRequest(
                f"The pass-through field '{key}' clashes with a field keyroute sets.", param=key
            )
        body[key] = value
    cache = req.context_cache
    if cache is not None:
        leading = req.messages[: cache.messages]
        turns = sum(1 for m in leading if m.role not in ("system", "developer"))
        return use_cache(body, cache.name, turns)
    return body


def _check_foreign_fields(req: ChatRequest) -> None:
    foreign = req.source_format != "gemini"
    for field in req.passthrough if foreign else ():
        if field not in req.optional:
            raise UnsupportedFeature(
                f"The field '{field}' of the {req.source_format} format is not supported by "
                "gemini.",
                param=field,
            )
    for i, tool in enumerate(req.tools if foreign else ()):
        for key in tool.extra:
            if key not in tool.optional:
                raise UnsupportedFeature(
                    f"tools[{i}].{key}: this tool field is not supported by gemini.",
                    param=f"tools[{i}].{key}",
                )
    if req.metadata:
        raise UnsupportedFeature("metadata is not supported by gemini.", param="metadata")


def _generation_config(req: ChatRequest) -> dict[str, Any]:
    if req.temperature is not None and not 0.0 <= req.temperature <= 2.0:
        raise InvalidRequest(
            f"temperature must be between 0 and 2 for gemini, got {req.temperature}.",
            param="temperature",
        )
    if len(req.stop) > MAX_STOP_SEQUENCES:
        raise UnsupportedFeature(
            f"gemini accepts at most {MAX_STOP_SEQUENCES} stop sequences, got {len(req.stop)}.",
            param="stop",
        )
    fields: dict[str, Any] = {
        "maxOutputTokens": req.max_tokens,
        "temperature": req.temperature,
        "topP": req.top_p,
        "topK": req.top_k,
        "stopSequences": list(req.stop) or None,
        "seed": req.seed,
        "presencePenalty": req.presence_penalty,
        "frequencyPenalty": req.frequency_penalty,
        "mediaResolution": _media_resolution(req),
        "thinkingConfig": _thinking_config(req),
    }
    config = {k: v for k, v in fields.items() if v is not None}
    config.update(_response_format(req))
    return config


def _response_format(req: ChatRequest) -> dict[str, Any]:
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return {}
    if fmt.type == "json_object":
        return {"responseMimeType": "application/json"}
    if fmt.schema is None:
        raise InvalidRequest(
            "response_format json_schema needs a schema.", param="response_format.json_schema"
        )
    if fmt.description is not None:
        raise UnsupportedFeature(
            "response_format.json_schema.description has no place in gemini's "
            "responseJsonSchema; put it in the schema's own 'description'.",
            param="response_format.json_schema.description",
        )
    return {"responseMimeType": "application/json", "responseJsonSchema": fmt.schema}


def _thinking_config(req: ChatRequest) -> dict[str, Any] | None:
    effort, budget = req.effort(), req.thinking_budget
    if req.thinking == "disabled":
        budget = 0
    if effort is not None and budget is not None:
        raise InvalidRequest(
            "Set reasoning_effort or a thinking budget, not both: gemini takes one.",
            param="reasoning_effort",
        )
    if effort is not None:
        level = _THINKING_LEVELS.get(effort)
        if level is None:
            raise UnsupportedFeature(
                f"reasoning_effort '{effort}' has no gemini thinkingLevel "
                f"(use minimal, low, medium or high).",
                param="reasoning_effort",
            )
        return _display({"thinkingLevel": level}, req)
    if budget is not None:
        config: dict[str, Any] = {"thinkingBudget": budget}
        if budget != 0:
            config["includeThoughts"] = True
        return config
    return _display({}, req) or None


def _display(config: dict[str, Any], req: ChatRequest) -> dict[str, Any]:
    if req.thinking_display == "summarized":
        config["includeThoughts"] = True
    return config


def _media_resolution(req: ChatRequest) -> str | None:
    details = {
        part.detail
        for message in req.messages
        for part in message.content
        if isinstance(part, ImagePart) and part.detail in _MEDIA_RESOLUTIONS
    }
    if len(details) > 1:
        raise UnsupportedFeature(
            "gemini sets image resolution per request: images with detail 'low' and 'high' "
            "cannot be mixed.",
            param="messages",
        )
    return _MEDIA_RESOLUTIONS[details.pop()] if details else None


def _declaration(tool: ToolSpec, native: bool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, **(tool.extra if native else {})}
    if tool.description is not None:
        declaration["description"] = tool.description
    if tool.parameters:
        declaration["parametersJsonSchema"] = tool.parameters
    return declaration


def _tool_config(req: ChatRequest) -> dict[str, Any] | None:
    choice = req.tool_choice
    if not req.tools:
        if choice is None or choice.mode in ("auto", "none"):
            return None
        raise InvalidRequest(f"tool_choice '{choice.mode}' needs tools.", param="tool_choice")
    strict = any(t.strict for t in req.tools)
    if choice is None:
        return _calling("VALIDATED") if strict else None
    return _choice_mode(choice, req.tools, strict)


def _choice_mode(choice: ToolChoice, tools: tuple[ToolSpec, ...], strict: bool) -> dict[str, Any]:
    if choice.mode == "auto":
        return _calling("VALIDATED" if strict else "AUTO")
    if choice.mode == "none":
        return _calling("NONE")
    if choice.mode == "required":
        return _calling("ANY")
    if choice.name is None or choice.name not in {t.name for t in tools}:
        raise InvalidRequest(
            f"tool_choice names '{choice.name}', which is not among the tools.",
            param="tool_choice",
        )
    return _calling("ANY", allowed=[choice.name])


def _calling(mode: str, allowed: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"mode": mode}
    if allowed is not None:
        config["allowedFunctionNames"] = allowed
    return {"functionCallingConfig": config}


def use_cache(body: dict[str, Any], name: str, contents: int) -> dict[str, Any]:
    """``body`` sent through the cache ``name`` that holds its first ``contents`` contents and
    its system instruction, tools and tool config."""
    used = {k: v for k, v in body.items() if k not in PREFIX_FIELDS}
    used["contents"] = body["contents"][contents:]
    used["cachedContent"] = name
    return used
