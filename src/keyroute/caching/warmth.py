"""``WarmPrefixes``: which models hold a conversation's prefix in their prompt cache (per
process), and what that is worth; the ``core.cache_warmth.CacheWarmth`` a router consults.

The pipeline notes every chat answer's usage, as the provider reported it (a stream's when it
ends): when it read from or wrote to the provider's cache, the conversation (``conversation_key``:
the workspace, tools, system prompt and first turn; the same for every turn) is warm on that
provider and model for the cache's shortest lifetime (five minutes, renewed by each use),
holding as many tokens as the answer read plus wrote. A later turn of that conversation is
expected to read that many tokens there. An answer that read and wrote nothing says the cache is
cold there (evicted, or expired early): the entry goes.

Invariants: pure CPU, no I/O; bounded (least recently noted conversations go first); keyed by
workspace, so one workspace's conversations never warm another's; a workspace with nothing warm
costs one dictionary read (no conversation key is computed); safe to lose (a cold answer only
means a router does not favour the warm model).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from keyroute.catalogue import Catalogue
from keyroute.core.chat import ChatRequest, TextPart
from keyroute.core.response import Usage

WARM_SECONDS = 300.0
_MILLION = Decimal(1_000_000)
_NOTHING: Mapping[tuple[str, str], int] = {}


def conversation_key(workspace_id: str, request: ChatRequest) -> int:
    """The same for every turn of a conversation: workspace, tools, system prompt, first turn.

    Python's own hash of those strings (salted per process, which suits a per-process table):
    CPython keeps a string's hash once computed, so the router's look-up and the answer's note
    hash the prompt once between them. Tools count by name and description.
    """
    parts: list[object] = [workspace_id]
    parts.extend((tool.name, tool.description) for tool in request.tools)
    turns = 0
    for message in request.messages:
        if message.role not in ("system", "developer"):
            turns += 1
            if turns > 1:
                break
        parts.append((message.role, *(p.text for p in message.content if isinstance(p, TextPart))))
    return hash(tuple(parts))


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
        # (workspace, conversation) -> {(provider, model): (expiry, tokens)}
        self._warm: OrderedDict[tuple[str, int], dict[tuple[str, str], tuple[float, int]]] = (
            OrderedDict()
        )
        self._conversations: dict[str, int] = {}  # workspace -> conversations in ``_warm``

    def note(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest, usage: Usage
    ) -> None:
        """An answer of ``provider``/``model`` to ``request``, with its usage as reported."""
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        if cached <= 0 and workspace_id not in self._conversations:
            return  # nothing of this workspace is warm: no conversation key to compute
        key = (workspace_id, conversation_key(workspace_id, request))
        models = self._warm.get(key)
        if cached <= 0:
            if models is not None and models.pop((provider, model), None) is not None:
                if not models:
                    self._forget(key)
            return
        if models is None:
            models = self._warm[key] = {}
            self._conversations[workspace_id] = self._conversations.get(workspace_id, 0) + 1
        models[(provider, model)] = (self._clock() + self._warm_seconds, cached)
        self._warm.move_to_end(key)
        while len(self._warm) > self._capacity:
            self._forget(next(iter(self._warm)))

    def _forget(self, key: tuple[str, int]) -> None:
        del self._warm[key]
        workspace_id = key[0]
        left = self._conversations[workspace_id] - 1
        if left:
            self._conversations[workspace_id] = left
        else:
            del self._conversations[workspace_id]

    def warm_models(self, workspace_id: str, request: ChatRequest) -> Mapping[tuple[str, str], int]:
        if workspace_id not in self._conversations:
            return _NOTHING  # the common case costs one dictionary read
        models = self._warm.get((workspace_id, conversation_key(workspace_id, request)))
        if not models:
            return _NOTHING
        now = self._clock()
        return {target: tokens for target, (expiry, tokens) in models.items() if expiry > now}

    def warm_tokens(
        self, workspace_id: str, provider: str, model: str, request: ChatRequest
    ) -> int:
        return self.warm_models(workspace_id, request).get((provider, model), 0)

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
