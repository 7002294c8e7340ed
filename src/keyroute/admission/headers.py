"""The response headers that tell a client where it stands, on every answer (errors included).

- ``x-keyroute-quota-limit``, ``x-keyroute-quota-remaining``, ``x-keyroute-quota-reset`` (ISO 8601
  with the workspace's offset) when the plan has a monthly quota;
- ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
  ``x-ratelimit-reset-requests`` and the ``-tokens`` trio as OpenAI names them, for the tightest
  applicable rate limit; the reset is the time until its bucket is full again (a duration such
  as ``500ms``, ``12s`` or ``1m0s``), as OpenAI means it.

Remaining counts are after this request's reservation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from keyroute.admission.periods import Calendar
from keyroute.admission.policy import Budget, Limits, RateLimit
from keyroute.ledger import Charge

Headers = list[tuple[str, str]]
Kind = Literal["quota", "requests", "tokens", "daily", "monthly"]


@dataclass(frozen=True, slots=True)
class Line:
    """Why a ledger charge is there: the kind of limit, and which one."""

    kind: Kind
    limit: RateLimit | Budget | None = None


@functools.lru_cache(maxsize=256)
def reset_text(end: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(end, zone).isoformat()


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``12s``, ``1m0s``."""
    if seconds < 1.0:
        return f"{max(0, int(seconds * 1000))}ms"
    whole = int(seconds + 0.999)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def quota_headers(
    limits: Limits,
    calendar: Calendar,
    charges: Sequence[Charge],
    lines: Sequence[Line],
    remaining: Sequence[int],
) -> Headers:
    if limits.plan.monthly_requests is None or not lines or lines[0].kind != "quota":
        return []
    left = remaining[0] if remaining else 0
    return [
        ("x-keyroute-quota-limit", str(charges[0].cap)),
        ("x-keyroute-quota-remaining", str(max(0, left))),
        ("x-keyroute-quota-reset", reset_text(calendar.month.end, limits.zoneinfo)),
    ]


_LIMIT = {k: f"x-ratelimit-limit-{k}" for k in ("requests", "tokens")}
_REMAINING = {k: f"x-ratelimit-remaining-{k}" for k in ("requests", "tokens")}
_RESET = {k: f"x-ratelimit-reset-{k}" for k in ("requests", "tokens")}


def rate_headers(
    charges: Sequence[Charge],
    rates: Sequence[tuple[str, Sequence[int]]],
    remaining: Sequence[int],
) -> Headers:
    """``rates``: per kind (``requests``, ``tokens``), the indexes of its charges (buckets)."""
    out: Headers = []
    for kind, indexes in rates:
        tightest = indexes[0]
        for index in indexes[1:]:
            if remaining[index] < remaining[tightest]:
                tightest = index
        charge = charges[tightest]
        cap = charge.cap
        left = remaining[tightest]
        left = cap if left > cap else (left if left > 0 else 0)
        full = (cap - left) * charge.window / cap if cap else 0.0
        out.append((_LIMIT[kind], str(cap)))
        out.append((_REMAINING[kind], str(left)))
        out.append((_RESET[kind], duration(full) if full >= 0.001 else "0ms"))
    return out
