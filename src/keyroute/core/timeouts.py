"""``Timeouts``: the four time limits of one upstream exchange, in seconds.

- ``connect``: opening the connection (TCP and TLS) to the provider's host.
- ``first_byte``: from sending the request to the response head. A non-streamed answer's head
  comes with the finished answer, so for those it bounds the whole generation.
- ``idle``: the longest gap between two body reads (between two chunks of a stream).
- ``total``: the whole exchange, head and body.

Invariants: every limit is a positive finite number; a limit longer than ``total`` is never
reached (``total`` wins). The defaults are safe with no policy set: a provider that accepts and
stays silent is given up on after ``first_byte``, one that stalls mid-stream after ``idle``.
Per-workspace and per-model policies (the fallback work) make other ``Timeouts`` values; the
value itself stays the one thing the upstream sender reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A TLS handshake takes well under a second; 10 s allows for a few lost SYNs on a bad network.
DEFAULT_CONNECT = 10.0
# Providers send a stream's head within seconds. A non-streamed answer's head comes with the
# whole answer: 120 s covers about 4,000 output tokens at the slowest common rate (~35 tokens/s,
# the rate the Anthropic SDK assumes when it warns about long non-streamed calls).
DEFAULT_FIRST_BYTE = 120.0
# Streams send content or keep-alive events every few seconds; two minutes of silence is a stall.
DEFAULT_IDLE = 120.0
# The official OpenAI and Anthropic SDKs give up after 600 s: keyroute never outwaits its clients.
DEFAULT_TOTAL = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Connect, first-byte, idle-gap and total limits of one upstream exchange (seconds)."""

    connect: float = DEFAULT_CONNECT
    first_byte: float = DEFAULT_FIRST_BYTE
    idle: float = DEFAULT_IDLE
    total: float = DEFAULT_TOTAL

    def __post_init__(self) -> None:
        for name in ("connect", "first_byte", "idle", "total"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"Timeouts.{name} must be a positive number of seconds: {value!r}")

    def capped(self, seconds: float) -> Timeouts:
        """These limits, none longer than ``seconds`` (a short call such as a model listing)."""
        return Timeouts(
            connect=min(self.connect, seconds),
            first_byte=min(self.first_byte, seconds),
            idle=min(self.idle, seconds),
            total=min(self.total, seconds),
        )
