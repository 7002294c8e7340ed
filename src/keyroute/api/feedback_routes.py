"""``POST /v1/feedback``: a client's verdict on one of its workspace's answers
(``routing.feedback``). Errors are in the OpenAI format; an unknown request id, or one of
another workspace, is a 404 naming ``request_id``."""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.api.asgi import Receive, Scope, Send
from keyroute.api.endpoint import Endpoint
from keyroute.core.errors import InvalidRequest, PayloadTooLarge
from keyroute.pipeline import Meter, RequestContext

_MAX_BODY = 16_384  # a request id, a score and a label


class Feedback(Endpoint):
    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raw = await self.body(scope, receive)
        if len(raw) > _MAX_BODY:
            raise PayloadTooLarge(f"A feedback body is at most {_MAX_BODY} bytes.")
        try:
            data: Any = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            raise InvalidRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        record = await self.services.feedback.give(ctx.principal.workspace_id, data)
        body = {
            "object": "feedback",
            "request_id": record.request_id,
            "score": record.score,
            "thumbs": record.thumbs,
            "label": record.label,
            "policy": record.policy,
            "model": record.model,
        }
        await self.reply(ctx, send, msgspec.json.encode(body))
