"""Builders shared by the audit tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from keyroute.core.record import RequestRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_numbers = itertools.count()


def record(ws: str | None = "ws_a", at: timedelta = timedelta(0), **fields: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "request_id": f"req_{next(_numbers):024x}",
        "started_at": T0 + at,
        "endpoint": "/v1/chat/completions",
        "inbound_format": "openai",
        "workspace_id": ws,
        "status": 200,
    }
    values.update(fields)
    return RequestRecord(**values)
