"""Canonical answers -> the Responses API's ``Response`` object.

Invariants:
- Field names and shapes are those of the official SDK's ``openai.types.responses.Response``
  (the unit tests validate every object with it).
- ``status`` is ``completed``, or ``incomplete`` with ``incomplete_details.reason``
  (``max_output_tokens``, ``content_filter``) when the answer was cut; ``failed`` carries
  ``error``.
- Usage reports every token class keyroute knows: input with its cached (read) and cache-write
  subsets, output with its reasoning subset; ``total_tokens`` is input plus output.
- Item ids are derived from the response id and the item's position, so an answer and its stored
  copy agree.
"""

from __future__ import annotations

from typing import Any

from keyroute.core.json import JsonObject
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.openai_responses.items import output_items
from keyroute.wire.openai_responses.request import ResponsesRequest

_INCOMPLETE: dict[FinishReason, str] = {
    "length": "max_output_tokens",
    "context_window": "max_output_tokens",
    "content_filter": "content_filter",
}


def item_id(prefix: str, response_id: str, position: int) -> str:
    """The id of output item ``position`` of ``response_id`` (``msg_...``, ``fc_...``)."""
    return f"{prefix}_{response_id.removeprefix('resp_')}_{position}"


def usage_object(u: Usage) -> JsonObject:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens,
    }


def response_object(
    req: ResponsesRequest,
    *,
    response_id: str,
    model: str,
    created_at: int,
    status: str,
    output: list[Any],
    usage: Usage | None = None,
    finish: FinishReason | None = None,
    error: JsonObject | None = None,
) -> JsonObject:
    """The ``Response`` object; ``finish`` decides between completed and incomplete."""
    reason = _INCOMPLETE.get(finish) if finish is not None else None
    if status == "completed" and reason is not None:
        status = "incomplete"
    body: JsonObject = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": model,
        "output": output,
        "error": error,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "previous_response_id": req.previous_response_id,
        "instructions": req.instructions,
        "metadata": req.echo.get("metadata") or {},
        "temperature": req.echo.get("temperature"),
        "top_p": req.echo.get("top_p"),
        "max_output_tokens": req.echo.get("max_output_tokens"),
        "user": req.echo.get("user"),
        "safety_identifier": req.echo.get("safety_identifier"),
        **{
            k: req.echo[k]
            for k in (
                "tools",
                "tool_choice",
                "parallel_tool_calls",
                "text",
                "truncation",
                "reasoning",
            )
        },
        "usage": usage_object(usage) if usage is not None else None,
    }
    return body


def encode_response(
    resp: ChatResponse,
    req: ResponsesRequest,
    *,
    response_id: str,
    model: str,
    created_at: int,
    origin: str | None = None,
) -> JsonObject:
    """A whole answer as a ``Response`` object; ``origin`` (``provider/model``) is the model
    that answered (``items.seal``)."""
    prefixes = ["rs"] * len(resp.thinking)
    if resp.text or resp.refusal:
        prefixes.append("msg")
    prefixes.extend("fc" for _ in resp.tool_calls)
    ids = [item_id(p, response_id, n) for n, p in enumerate(prefixes)]
    return response_object(
        req,
        response_id=response_id,
        model=model,
        created_at=created_at,
        status="completed",
        output=output_items(resp, ids, origin),
        usage=resp.usage,
        finish=resp.finish_reason,
    )
