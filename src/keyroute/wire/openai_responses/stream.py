"""Canonical stream events -> the Responses API's typed SSE events.

The sequence is the one the official SDKs' stream helpers expect:

    response.created, response.in_progress,
    per item: response.output_item.added,
      message:   response.content_part.added, response.output_text.delta*  (or refusal.delta*),
                 response.output_text.done, response.content_part.done
      function:  response.function_call_arguments.delta*, response.function_call_arguments.done
      reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta*,
                 response.reasoning_summary_text.done, response.reasoning_summary_part.done
    response.output_item.done,
    response.completed (or response.incomplete) with usage

and, when the stream fails after it started, ``error`` then ``response.failed``.

Invariants:
- ``sequence_number`` counts every event of the stream from 0, with no gap.
- Every item that was added is done before the response's last event; the final ``Response``
  (``final``) lists exactly the items the events built, with the ids they carried.
- Each event is an SSE ``event:`` line naming its type and one ``data:`` line of JSON.
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.errors import GatewayError, RateLimited, UpstreamRateLimited
from keyroute.core.response import FinishReason, Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.openai_responses.items import REDACTED, seal
from keyroute.wire.openai_responses.request import ResponsesRequest
from keyroute.wire.openai_responses.response import item_id, response_object


class ResponsesStreamEncoder:
    def __init__(
        self,
        req: ResponsesRequest,
        *,
        response_id: str,
        model: str,
        created_at: int,
        origin: str | None = None,
    ) -> None:
        """``origin`` (``provider/model``): the model that answers (``items.seal``)."""
        self._req = req
        self._origin = origin
        self._id = response_id
        self._model = model
        self._created = created_at
        self._seq = 0
        self._items: list[dict[str, Any]] = []
        self._open: list[int] = []  # positions of items not yet done, in order
        self._calls: dict[int, int] = {}  # tool-call index -> item position
        self._part: str | None = None  # the open content part of the open message
        self._usage: Usage | None = None
        self._finish: FinishReason | None = None
        self._started = False
        self.final: dict[str, Any] | None = None
        """The whole ``Response`` once the stream completed (``None`` if it failed)."""

    # -- framing ---------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(
            self._req,
            response_id=self._id,
            model=self._model,
            created_at=self._created,
            status=status,
            output=[i for n, i in enumerate(self._items) if n not in self._open],
            **extra,
        )

    def _begin(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        head = self._response("in_progress")
        return self._event("response.created", response=head) + self._event(
            "response.in_progress", response=head
        )

    # -- events ----------------------------------------------------------------------------

    def feed(self, event: StreamEvent) -> bytes:
        out = self._begin()
        if isinstance(event, TextDelta | RefusalDelta):
            return out + self._content(
                "refusal" if isinstance(event, RefusalDelta) else "text", event.text
            )
        if isinstance(event, ThinkingDelta):
            return out + self._thinking(event)
        if isinstance(event, ToolCallStart):
            out += self._close_all()
            position = self._add(
                "fc",
                {"type": "function_call", "call_id": event.id, "name": event.name, "arguments": ""},
            )
            self._calls[event.index] = position
            return out + self._event(
                "response.output_item.added", output_index=position, item=self._items[position]
            )
        if isinstance(event, ToolCallArgs):
            position = self._calls[event.index]
            item = self._items[position]
            item["arguments"] = str(item["arguments"]) + event.arguments
            return out + self._event(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=position,
                delta=event.arguments,
            )
        if isinstance(event, UsageReport):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            self._finish = event.finish_reason
        return out  # StreamStart: the head was sent by ``_begin``

    def _add(self, prefix: str, item: dict[str, Any]) -> int:
        position = len(self._items)
        status = {} if item["type"] == "reasoning" else {"status": "in_progress"}
        self._items.append({"id": item_id(prefix, self._id, position), **item, **status})
        self._open.append(position)
        return position

    def _current(self, kind: str) -> int | None:
        if self._open and self._items[self._open[-1]]["type"] == kind:
            return self._open[-1]
        return None

    def _content(self, part: str, text: str) -> bytes:
        out = b""
        position = self._current("message")
        if position is None:
            out += self._close_all()
            position = self._add("msg", {"type": "message", "role": "assistant", "content": []})
            out += self._event(
                "response.output_item.added",
                output_index=position,
                item={**self._items[position], "content": []},
            )
        item = self._items[position]
        content: list[dict[str, Any]] = item["content"]
        if self._part != part:
            out += self._close_part(position)
            blank = (
                {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                if part == "text"
                else {"type": "refusal", "refusal": ""}
            )
            content.append(blank)
            self._part = part
            out += self._event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=position,
                content_index=len(content) - 1,
                part=dict(blank),
            )
        field = "text" if part == "text" else "refusal"
        content[-1][field] = str(content[-1][field]) + text
        extra: dict[str, Any] = {"logprobs": []} if part == "text" else {}
        kind = "response.output_text.delta" if part == "text" else "response.refusal.delta"
        return out + self._event(
            kind,
            item_id=item["id"],
            output_index=position,
            content_index=len(content) - 1,
            delta=text,
            **extra,
        )

    def _close_part(self, position: int) -> bytes:
        if self._part is None:
            return b""
        item = self._items[position]
        content: list[dict[str, Any]] = item["content"]
        part, index = content[-1], len(content) - 1
        where = {"item_id": item["id"], "output_index": position, "content_index": index}
        if self._part == "text":
            out = self._event("response.output_text.done", text=part["text"], logprobs=[], **where)
        else:
            out = self._event("response.refusal.done", refusal=part["refusal"], **where)
        self._part = None
        return out + self._event("response.content_part.done", part=part, **where)

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        position = self._current("reasoning")
        if position is None:
            out += self._close_all()
            position = self._add("rs", {"type": "reasoning", "summary": []})
            out += self._event(
                "response.output_item.added",
                output_index=position,
                item={**self._items[position], "summary": []},
            )
        item = self._items[position]
        where = {"item_id": item["id"], "output_index": position, "summary_index": 0}
        summary: list[dict[str, Any]] = item["summary"]
        origin = event.origin or self._origin
        if event.redacted:
            item["encrypted_content"] = seal(REDACTED + event.text, origin)
            return out
        if event.signature is not None:
            item["encrypted_content"] = seal(event.signature, origin)
        if event.text:
            if not summary:
                summary.append({"type": "summary_text", "text": ""})
                part = {"type": "summary_text", "text": ""}
                out += self._event("response.reasoning_summary_part.added", part=part, **where)
            summary[0]["text"] = str(summary[0]["text"]) + event.text
            out += self._event("response.reasoning_summary_text.delta", delta=event.text, **where)
        return out

    def _close_all(self) -> bytes:
        out = b""
        for position in list(self._open):
            item = self._items[position]
            where = {"item_id": item["id"], "output_index": position}
            if item["type"] == "message":
                out += self._close_part(position)
                item["status"] = "completed"
            elif item["type"] == "function_call":
                out += self._event(
                    "response.function_call_arguments.done",
                    arguments=item["arguments"],
                    name=item["name"],
                    **where,
                )
                item["status"] = "completed"
            elif item["summary"]:
                summary: list[dict[str, Any]] = item["summary"]
                out += self._event(
                    "response.reasoning_summary_text.done",
                    summary_index=0,
                    text=summary[0]["text"],
                    **where,
                )
                out += self._event(
                    "response.reasoning_summary_part.done",
                    summary_index=0,
                    part=summary[0],
                    **where,
                )
            self._open.remove(position)
            out += self._event("response.output_item.done", output_index=position, item=item)
        return out

    def close(self) -> bytes:
        """Finish every item and send the final ``Response`` with usage."""
        out = self._begin() + self._close_all()
        final = self._response("completed", usage=self._usage, finish=self._finish)
        self.final = final
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return out + self._event(kind, response=final)

    def error(self, err: GatewayError) -> bytes:
        """A failure after the stream started: ``error``, then ``response.failed``."""
        limited = isinstance(err, RateLimited | UpstreamRateLimited)
        code = "rate_limit_exceeded" if limited else "server_error"
        out = self._begin() + self._event(
            "error", code=err.code, message=err.message, param=err.param
        )
        failed = self._response("failed", error={"code": code, "message": err.message})
        return out + self._event("response.failed", response=failed)
