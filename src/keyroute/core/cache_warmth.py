"""``CacheWarmth``: what a router needs to know about provider prompt caches (a protocol).

A conversation whose prefix is warm in one model's prompt cache pays a fraction of the input
price for that prefix there, and the full price (plus a cache write) anywhere else. A router
that compares models by cost asks ``expected_discount`` for each candidate and adds it back to
the candidates that would lose it, so it only moves a warm conversation when another model is
cheaper even without the discount. ``keyroute.caching.warmth.WarmPrefixes`` implements it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from keyroute.core.chat import ChatRequest


class CacheWarmth(Protocol):
    def warm_tokens(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> int:
        """Prompt tokens of ``request`` likely read from ``provider``/``model``'s cache now
        (0 when its prefix is cold there). Pure CPU, no I/O."""
        ...

    def expected_discount(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> Decimal:
        """USD saved on ``request``'s input by the warm cache of ``provider``/``model``: the warm
        tokens at the input price less the cache-read price (list prices, the catalogue's)."""
        ...
