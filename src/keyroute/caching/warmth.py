"""``WarmPrefixes``: which models hold a conversation's prefix in their prompt cache (per
process), and what that is worth; the ``core.cache_warmth.CacheWarmth`` a router consults.

The pipeline notes every chat answer whose usage read from or wrote to a provider's cache:
the conversation (``conversation_key``: the workspace, tools, system prompt and first turn; the
same for every turn) is then warm on that provider and model for the cache's lifetime (five
minutes, renewed by each use), holding as many tokens as the answer read plus wrote. A later
turn of that conversation is expected to read that many tokens there.

Invariants: pure CPU, no I/O; bounded (least recently noted conversations go first); safe to
lose (a cold answer only means a router does not favour the warm model).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from keyroute.catalogue import Catalogue
from keyroute.core.chat import ChatRequest, TextPart
from keyroute.core.response import Usage

WARM_SECONDS = 300.0
_MILLION = Decimal(1_000_000)


def conversation_key(workspace_id: str, request: ChatRequest) -> str:
    """The same for every turn of a conversation: workspace, tools, system prompt, first turn."""
    digest = hashlib.sha256(workspace_id.encode())
    for tool in request.tools:
        digest.update(b"\x00t" + tool.name.encode() + (tool.description or "").encode())
        digest.update(json.dumps(tool.parameters, sort_keys=True).encode())
    turns = 0
    for message in request.messages:
        if message.role not in ("system", "developer"):
            turns += 1
            if turns > 1:
                break
        digest.update(b"\x00" + message.role.encode() + b"\x00")
        digest.update("".join(p.text for p in message.content if isinstance(p, TextPart)).encode())
    return digest.hexdigest()


class WarmPrefixes:
    def __init__(
        self,
        catalogue: Catalogue,
        *,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
        warm_seconds: float = WARM_SECONDS,
    ) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self._capacity = capacity
        self._warm_seconds = warm_seconds
        # conversation -> {(provider, model): (expiry, tokens)}
        self._warm: OrderedDict[str, dict[tuple[str, str], tuple[float, int]]] = OrderedDict()

    def note(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest, usage: Usage
    ) -> None:
        """An answer of ``provider``/``model`` to ``request``, with its usage."""
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        if cached <= 0:
            return
        key = conversation_key(workspace_id, request)
        models = self._warm.setdefault(key, {})
        models[(provider, model)] = (self._clock() + self._warm_seconds, cached)
        self._warm.move_to_end(key)
        while len(self._warm) > self._capacity:
            self._warm.popitem(last=False)

    def warm_tokens(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> int:
        models = self._warm.get(conversation_key(workspace_id, request))
        if not models:
            return 0
        entry = models.get((provider, model))
        if entry is None or entry[0] <= self._clock():
            return 0
        return entry[1]

    def expected_discount(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> Decimal:
        tokens = self.warm_tokens(workspace_id, provider, model, request)
        if tokens == 0:
            return Decimal(0)
        entry = self._catalogue.get(provider, model)
        if entry is None:
            return Decimal(0)
        band = entry.sheet_at(datetime.now(UTC).date())
        if band is None:
            return Decimal(0)
        read = band.cached_input if band.cached_input is not None else band.input
        return tokens * (band.input - read) / _MILLION
