"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models the caller's workspace can reach.

One endpoint serves both SDKs: a request carrying ``anthropic-version`` (every Anthropic SDK
sends it) gets Anthropic's model-list shape and error format, any other OpenAI's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from keyroute.api.asgi import Receive, Scope, Send, header
from keyroute.api.endpoint import Endpoint
from keyroute.api.errors import ErrorFormat
from keyroute.core.errors import ModelNotFound
from keyroute.pipeline import ListModels, Meter, RequestContext
from keyroute.routing.model_id import check_model_id


def _openai(model_id: str, owner: str, created: datetime) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": int(created.timestamp()),
        "owned_by": owner,
    }


def _anthropic(model_id: str, owner: str, created: datetime) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": f"{model_id} ({owner})",
        "created_at": created.isoformat().replace("+00:00", "Z"),
    }


class Models(Endpoint):
    methods = frozenset({"GET"})

    def error_format(self, scope: Scope) -> ErrorFormat:
        return "anthropic" if header(scope, b"anthropic-version") else "openai"

    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        wanted = scope.get("path_params", {}).get("model")
        if wanted:
            check_model_id(wanted)  # before any host is asked for its list
        listing = await self.models(ctx, meter, receive, ListModels(only=wanted), scope)
        models = listing.models
        anthropic = self.error_format(scope) == "anthropic"
        render = _anthropic if anthropic else _openai
        created = listing.workspace.created_at
        if wanted:
            if wanted not in models:
                raise ModelNotFound(f"The model '{wanted}' does not exist.", param="model")
            body: Any = render(wanted, models[wanted], created)
        elif anthropic:
            ids = list(models)
            body = {
                "data": [render(m, models[m], created) for m in ids],
                "has_more": False,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            }
        else:
            body = {"object": "list", "data": [render(m, o, created) for m, o in models.items()]}
        await self.reply(ctx, send, msgspec.json.encode(body))
