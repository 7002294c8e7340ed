"""Tool-call signatures on their way through a request (see ``keyroute.signatures``).

Before an attempt, ``prepare`` puts back the signatures a client dropped from replayed tool
calls, only those recorded for the model this attempt goes to (loading from storage only the
ones this process has not seen); after it, ``capture`` and ``on_event`` record the
signatures the model produced, on every path (whole answers, stream events, the final flush).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from keyroute.core.chat import ChatRequest, Message, ToolCall
from keyroute.core.stream import StreamEvent, ToolCallStart
from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.operations import ChatStream, WholeOperation
from keyroute.routing.resolver import Route
from keyroute.signatures import SignatureCache, signature_model

Op = TypeVar("Op", bound=WholeOperation[Any] | ChatStream)


class Signing:
    def __init__(self, signatures: SignatureCache) -> None:
        self._signatures = signatures

    async def prepare(self, ctx: RequestContext, route: Route, op: Op) -> Op:
        """``op`` with the dropped signatures of ``route``'s model put back."""
        request = getattr(op, "request", None)
        if not isinstance(request, ChatRequest) or not any(m.tool_calls for m in request.messages):
            return op  # nothing replayed: the common case costs one pass over the messages
        unsigned: list[str] = []
        op.rewrite(lambda req: _collect_unsigned(req, unsigned))
        if not unsigned:
            return op
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)
        await self._signatures.load(ws, model, unsigned)
        return op.rewrite(lambda req: self._signed(ws, model, req))  # type: ignore[return-value]

    def capture(self, ctx: RequestContext, route: Route, calls: tuple[ToolCall, ...]) -> None:
        if not calls:  # most answers call no tool
            return
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)
        for call in calls:
            if call.signature:
                self._signatures.put(ws, call.id, model, call.signature)

    def on_event(self, ctx: RequestContext, route: Route) -> Callable[[StreamEvent], None]:
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)

        def capture(event: StreamEvent) -> None:
            if isinstance(event, ToolCallStart) and event.signature:
                self._signatures.put(ws, event.id, model, event.signature)

        return capture

    def _signed(self, ws: str, model: str, req: ChatRequest) -> ChatRequest:
        messages: list[Message] = []
        for m in req.messages:
            if m.tool_calls and any(c.signature is None for c in m.tool_calls):
                calls = tuple(
                    c
                    if c.signature is not None
                    else replace(c, signature=self._signatures.get(ws, c.id, model))
                    for c in m.tool_calls
                )
                m = replace(m, tool_calls=calls)
            messages.append(m)
        return replace(req, messages=tuple(messages))


def _collect_unsigned(req: ChatRequest, into: list[str]) -> ChatRequest:
    """Note the ids of the replayed tool calls that carry no signature; ``req`` unchanged."""
    for m in req.messages:
        into.extend(c.id for c in m.tool_calls if c.signature is None)
    return req
