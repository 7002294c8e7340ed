"""Request ids: ``req_`` and 24 hex characters, on every response as ``x-request-id``."""

from __future__ import annotations

import secrets


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)
