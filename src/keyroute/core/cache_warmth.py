"""``CacheWarmth``: what a router needs to know about provider prompt caches (a protocol).

A conversation whose prefix is warm in one model's prompt cache pays a fraction of the input
price for that prefix there, and the full price (plus a cache write) anywhere else. The router
(``keyroute.routing.selection``) asks ``warm_models`` once per request and prices each warm
candidate with its cache discount, so it only moves a warm conversation when another model is
cheaper even without the discount. ``keyroute.caching.warmth.WarmPrefixes`` implements it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from keyroute.core.chat import ChatRequest


class CacheWarmth(Protocol):
    def warm_models(self, workspace_id: str, request: ChatRequest) -> Mapping[tuple[str, str], int]:
        """Every ``(provider, model)`` whose cache holds ``request``'s conversation prefix now,
        with the prompt tokens a read is expected to cover (empty when it is cold everywhere).
        Pure CPU, no I/O; one look-up whatever the number of models."""
        ...

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
