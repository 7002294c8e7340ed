"""Read the gateway key from a request: ``Authorization: Bearer`` or Anthropic's ``x-api-key``."""

from __future__ import annotations

from keyroute.api.asgi import Scope, header


def gateway_key(scope: Scope) -> str | None:
    auth = header(scope, b"authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = header(scope, b"x-api-key")
    return key.strip() if key else None
