"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models the caller's workspace can reach.

One endpoint serves both SDKs: a request carrying ``anthropic-version`` (every Anthropic SDK
sends it) gets Anthropic's model-list shape and error format, any other OpenAI's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from keyroute.api.asgi import Receive, Scope, Send, header, send_bytes
from keyroute.api.endpoint import Endpoint
from keyroute.api.errors import ErrorFormat
from keyroute.core.errors import ModelNotFound
from keyroute.pipeline import RequestContext
from keyroute.providers import registry
from keyroute.routing.model_id import check_model_id
from keyroute.routing.resolver import model_prefixes
from keyroute.workspace_state import WorkspaceState


def catalogue(state: WorkspaceState) -> dict[str, str]:
    """Model id -> who serves it (a provider id, or ``alias of <target>``)."""
    models: dict[str, str] = {}
    for prefix, key in model_prefixes(state.provider_keys):
        for name in registry.spec(key.provider).models:
            models[f"{prefix}/{name}"] = key.provider
    for alias, target in state.aliases.items():
        models[alias] = f"alias of {target}"
    return models


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

    async def handle(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = scope.get("path_params", {}).get("model")
        if wanted:
            check_model_id(wanted)  # before any host is asked for its list
        state = await self.services.directory.get(ctx.principal.workspace_id)
        models = {**catalogue(state), **await self.services.pipeline.hosted_models(ctx)}
        anthropic = self.error_format(scope) == "anthropic"
        render = _anthropic if anthropic else _openai
        created = state.workspace.created_at
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
        await send_bytes(send, 200, msgspec.json.encode(body), self.headers(ctx))
