"""``payload``: an admin request's JSON object body, read with the data plane's bounded reader
(over ``server.max_admin_body_bytes`` is a 413)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request

from keyroute.api.asgi import read_body
from keyroute.core.errors import InvalidRequest
from keyroute.services import Services


async def payload(request: Request, services: Services) -> dict[str, Any]:
    """The JSON object body, read with the data plane's bounded reader (413 over the limit)."""
    server = services.config.server
    raw = await read_body(
        request.scope,
        request.receive,
        server.max_admin_body_bytes,
        allowance=server.body_timeout_seconds,
        min_rate=server.body_min_rate_bytes,
    )
    if not raw:
        return {}
    try:
        data = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data
