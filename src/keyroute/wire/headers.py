"""HTTP header values shared by every wire format."""

from __future__ import annotations

import math
from collections.abc import Mapping


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Read ``retry-after-ms`` or ``retry-after`` (seconds) from lower-cased headers."""
    raw_ms = _number(headers.get("retry-after-ms"))
    if raw_ms is not None:
        return raw_ms / 1000.0
    return _number(headers.get("retry-after"))


def _number(raw: str | None) -> float | None:
    """A finite, non-negative number of seconds, or ``None`` (HTTP dates are not honoured)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None
