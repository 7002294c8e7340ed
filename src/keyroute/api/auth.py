"""Read the gateway key from a request: ``Authorization: Bearer`` or Anthropic's ``x-api-key``.

Clients sometimes send both (an SDK's default header plus one the user added). A value that
looks like a gateway key (``kr-``) wins; otherwise the header native to the endpoint's format
does (Bearer for OpenAI's, ``x-api-key`` for Anthropic's).
"""

from __future__ import annotations

from keyroute.api.asgi import Scope, header
from keyroute.principals import KEY_PREFIX


def _bearer(scope: Scope) -> str | None:
    auth = header(scope, b"authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def gateway_key(scope: Scope, *, prefer_x_api_key: bool = False) -> str | None:
    x_api_key = (header(scope, b"x-api-key") or "").strip() or None
    candidates = [_bearer(scope), x_api_key]
    if prefer_x_api_key:
        candidates.reverse()
    present = [c for c in candidates if c]
    for candidate in present:
        if candidate.startswith(KEY_PREFIX):
            return candidate
    return present[0] if present else None
