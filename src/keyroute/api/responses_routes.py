"""The OpenAI Responses API: ``POST /v1/responses`` (and ``/responses``), ``GET`` and ``DELETE
/v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``.

A Responses request is one more inbound codec into the same lifecycle as chat completions: it is
decoded into a canonical request and run as ``Chat`` or ``ChatStream`` through
``Pipeline.run``, so routing, budgets, metering and usage work the same; the answer is encoded as
a ``Response`` object or the typed event stream. Errors before a stream starts are OpenAI error
JSON (the Responses API's own); after, an ``error`` event and ``response.failed``.

State: with ``store`` (the default) and unless the workspace turned storing off (then
``previous_response_id`` is a 400), the turn is kept per workspace (``Services.responses``,
sealed, off the request path); ``previous_response_id`` puts the stored conversation before the
new input, whichever provider served it. A response id carries its creation time, so a
follow-up that arrives on another worker before the turn is stored waits for it briefly, while
an unknown old id is refused at once.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import msgspec

from keyroute.api.asgi import Receive, Scope, Send
from keyroute.api.endpoint import Endpoint
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.pipeline import Chat, ChatStream, Meter, RequestContext
from keyroute.services import Services
from keyroute.wire.openai_responses import (
    ResponsesRequest,
    ResponsesStreamEncoder,
    decode_request,
    encode_response,
    with_history,
)

_FRESH_SECONDS = 10.0  # a follow-up to a response younger than this may wait for its storage
_ITEM_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


def shown(value: str, limit: int = 64) -> str:
    """A client-sent id as an error message may quote it: cut to ``limit`` characters."""
    return value if len(value) <= limit else value[:limit] + "..."


def new_response_id(now: float) -> str:
    """``resp_``, the creation time in milliseconds (12 hex digits) and 20 random hex digits."""
    return f"resp_{int(now * 1000):012x}{secrets.token_hex(10)}"


def response_age(response_id: str, now: float) -> float | None:
    """Seconds since ``response_id`` was minted by ``new_response_id`` (``None``: not one)."""
    stamp = response_id.removeprefix("resp_")[:12]
    if len(response_id) != 37 or not response_id.startswith("resp_"):
        return None
    try:
        return now - int(stamp, 16) / 1000.0
    except ValueError:
        return None


def input_items(req: ResponsesRequest, response_id: str) -> list[dict[str, Any]]:
    """This turn's input items, each with an id (the client's, or one derived from the turn)."""
    items = []
    for n, item in enumerate(req.items):
        kind = str(item.get("type", "message"))
        prefix = _ITEM_PREFIX.get(kind, "rs" if kind == "reasoning" else "item")
        base = {"type": kind, "id": f"{prefix}_{response_id.removeprefix('resp_')}_in{n}"}
        if kind == "message":
            base["status"] = "completed"
            content = item.get("content")
            if isinstance(content, str):
                item = {**item, "content": [{"type": "input_text", "text": content}]}
        items.append({**base, **item})
    return items


def _origin(ctx: RequestContext) -> str | None:
    """``provider/model`` of the model that answered (the reasoning it wrote is bound to it)."""
    record = ctx.record
    if record.provider is None or record.upstream_model is None:
        return None
    return f"{record.provider}/{record.upstream_model}"


class Responses(Endpoint):
    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = decode_request(await self.body(scope, receive))
        workspace_id = ctx.principal.workspace_id
        policy = (await self.services.directory.get(workspace_id)).responses
        now = time.time()
        history: list[Any] = []
        if req.previous_response_id is not None and not policy.store:
            raise InvalidRequest(
                "This workspace does not store responses, so 'previous_response_id' cannot be "
                "used: send the whole conversation in 'input'.",
                param="previous_response_id",
            )
        if req.previous_response_id is not None:
            history = await self._history(workspace_id, req.previous_response_id, now)
            req = with_history(req, history)
        response_id, created = new_response_id(now), int(now)
        inputs = input_items(req, response_id)

        days = policy.retention_days
        retention = timedelta(days=days) if days is not None else None

        def keep(response: dict[str, Any]) -> None:
            if req.store and policy.store:
                state = {"response": response, "input": inputs, "history": history}
                self.services.responses.save(workspace_id, response_id, state, retention)

        if not req.chat.stream:
            resp = await self.run(ctx, meter, receive, Chat(req.chat), scope)
            body = encode_response(
                resp,
                req,
                response_id=response_id,
                model=ctx.model_id,
                created_at=created,
                origin=_origin(ctx),
            )
            await self.reply(ctx, send, msgspec.json.encode(body))
            keep(body)
            return
        encoders: list[ResponsesStreamEncoder] = []

        def encoder() -> ResponsesStreamEncoder:
            made = ResponsesStreamEncoder(
                req,
                response_id=response_id,
                model=ctx.model_id,
                created_at=created,
                origin=_origin(ctx),
            )
            encoders.append(made)
            return made

        await self.stream(ctx, meter, scope, receive, send, ChatStream(req.chat), encoder)
        if encoders and encoders[0].final is not None:
            keep(encoders[0].final)

    async def _history(self, workspace_id: str, previous: str, now: float) -> list[Any]:
        age = response_age(previous, now)
        fresh = age is not None and age < _FRESH_SECONDS
        state = await self.services.responses.get(workspace_id, previous, wait=fresh)
        if state is None:
            raise InvalidRequest(
                f"Previous response with id '{shown(previous)}' not found (never stored, deleted, "
                "expired, or stored with 'store': false).",
                param="previous_response_id",
            )
        return [*state["history"], *state["input"], *state["response"]["output"]]


class StoredResponse(Endpoint):
    """``GET`` and ``DELETE /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``."""

    methods: ClassVar[frozenset[str]] = frozenset({"GET", "DELETE"})

    def __init__(self, services: Services, *, listing: bool = False) -> None:
        super().__init__(services)
        self.listing = listing

    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response_id = str(scope.get("path_params", {}).get("response_id", ""))
        workspace_id = ctx.principal.workspace_id
        states = self.services.responses
        missing = NotFound(
            f"No response found with id '{shown(response_id)}'.", param="response_id"
        )
        if scope["method"] == "DELETE" and not self.listing:
            if not await states.delete(workspace_id, response_id):
                raise missing
            body = {"id": response_id, "object": "response", "deleted": True}
            await self.reply(ctx, send, msgspec.json.encode(body))
            return
        if scope["method"] != "GET":
            raise InvalidRequest("Use GET to list a response's input items.")
        state = await states.get(workspace_id, response_id)
        if state is None:
            raise missing
        if not self.listing:
            await self.reply(ctx, send, msgspec.json.encode(state["response"]))
            return
        await self.reply(ctx, send, msgspec.json.encode(_listing(state["input"], scope)))


def _listing(items: list[Any], scope: Scope) -> dict[str, Any]:
    """A page of input items: ``order`` (desc by default), ``limit`` (1-100, 20), ``after``."""
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("'order' must be asc or desc.", param="order")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be an integer from 1 to 100.", param="limit")
    ordered = items if order == "asc" else list(reversed(items))
    after = query.get("after")
    if after is not None:
        ids = [i["id"] for i in ordered]
        if after not in ids:
            raise InvalidRequest(f"No input item with id '{after}'.", param="after")
        ordered = ordered[ids.index(after) + 1 :]
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }
