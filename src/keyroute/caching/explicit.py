"""``ExplicitCaches``: when keyroute creates an explicit provider context cache (Gemini
``cachedContents``), which one a request uses, and what a cache costs besides its tokens.

An explicit cache is paid for twice before it saves anything: its tokens are billed at the
input price when it is created, and its storage for its whole lifetime (``ttl``), whether or not
it is used. Each request that reads it instead pays the cached-input price for those tokens.
So keyroute creates one only for a prefix (tools, system prompt, and the first turn when the
conversation goes on) that

- is at least the model's minimum cacheable length (the catalogue's, estimated at four
  characters a token of its exact JSON);
- belongs to a model the catalogue gives a storage price (``PriceSheet.cache_storage``; models
  with implicit caching only have none);
- was seen at least ``MIN_SIGHTINGS`` times in the last ``ttl`` (this request included) by the
  same workspace, provider key and model, and those sightings, repeated over the next ``ttl``,
  save more than the cache costs: ``n * (input - cached_input) > input + storage * ttl_hours``
  (per token, so the prefix's length cancels out).

A live cache is used by every later request with that prefix until shortly before it expires
(``EXPIRY_MARGIN``); one the provider says is gone (``forget``) is forgotten at once. A failed
creation is not retried for that prefix for one ``ttl``. Nothing is deleted: the provider bills a
cache's storage for the lifetime it was created with even if it is deleted sooner, so it is
left to expire.

Entries are keyed by workspace, provider key, model and prefix digest: a cache is never used
by another workspace or with another key. State is per process, bounded (least recently used
prefixes go first) and safe to lose (a lost entry costs one more cache); several workers each
create their own cache for a prefix they all see. Pure CPU and an injected clock: no I/O.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from keyroute.catalogue import Catalogue, PriceSheet
from keyroute.core.context_cache import CachePrefix
from keyroute.core.money import Cost, usd_to_pico

MIN_SIGHTINGS = 2
MAX_SIGHTINGS = 64  # kept per prefix: far more than any catalogue price needs to pay
EXPIRY_MARGIN = 30.0  # seconds before its expiry a cache is no longer sent
DEFAULT_MIN_TOKENS = 4096
TTL_SECONDS = {"5m": 300, "1h": 3600}
_MILLION = Decimal(1_000_000)
_HOUR = Decimal(3600)

Slot = tuple[str, str, str, str]  # workspace, provider key id, model, prefix digest


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What a request does about explicit caching: ``use`` the cache ``name``, ``create`` one
    for ``prefix``, or nothing (``None`` from ``plan``)."""

    action: Literal["use", "create"]
    slot: Slot
    prefix: CachePrefix
    name: str = ""


@dataclass(slots=True)
class _Entry:
    sightings: deque[float]
    name: str | None = None
    expires: float = 0.0  # wall-clock epoch seconds
    blocked_until: float = 0.0  # a creation failed or is under way until then


class ExplicitCaches:
    def __init__(
        self,
        catalogue: Catalogue,
        *,
        clock: Callable[[], float] = time.time,
        capacity: int = 50_000,
    ) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self._capacity = capacity
        self._entries: OrderedDict[Slot, _Entry] = OrderedDict()
        self._names: dict[str, Slot] = {}  # cache name -> its slot, for ``forget_name``

    def plan(
        self,
        *,
        workspace_id: str,
        key_id: str,
        provider: str,
        model: str,
        prefixes: Sequence[CachePrefix],
        ttl_seconds: int,
    ) -> Decision | None:
        """Note that a request with ``prefixes`` (longest first) is about to be sent, and say
        which live cache it uses or which prefix to create a cache for now."""
        now = self._clock()
        slots = [((workspace_id, key_id, model, p.digest), p) for p in prefixes]
        entries = [(slot, prefix, self._seen(slot, now, ttl_seconds)) for slot, prefix in slots]
        for slot, prefix, entry in entries:
            if entry.name is not None:
                if now < entry.expires - EXPIRY_MARGIN:
                    return Decision(action="use", slot=slot, prefix=prefix, name=entry.name)
                self._names.pop(entry.name, None)
                entry.name = None
        create: Decision | None = None
        for slot, prefix, entry in entries:
            if create is None and now >= entry.blocked_until:
                if self._pays(provider, model, prefix, len(entry.sightings), ttl_seconds):
                    entry.blocked_until = now + ttl_seconds  # one creation at a time
                    create = Decision(action="create", slot=slot, prefix=prefix)
        return create

    def created(self, slot: Slot, name: str, expires: datetime) -> None:
        """The provider created ``name`` for ``slot``; it lives until ``expires``."""
        entry = self._entries.get(slot)
        if entry is None:
            entry = self._entries[slot] = _Entry(sightings=deque())
        if entry.name is not None:
            self._names.pop(entry.name, None)
        entry.name = name
        self._names[name] = slot
        entry.expires = expires.astimezone(UTC).timestamp()
        entry.blocked_until = 0.0  # a successor may be created when this one nears its end

    def failed(self, slot: Slot) -> None:
        """Creating a cache for ``slot`` failed: its prefix waits one lifetime before the next
        attempt (``plan`` already set that block)."""
        entry = self._entries.get(slot)
        if entry is not None:
            entry.name = None

    def forget(self, slot: Slot) -> None:
        """The provider no longer has the cache of ``slot`` (expired early, deleted)."""
        entry = self._entries.get(slot)
        if entry is not None:
            if entry.name is not None:
                self._names.pop(entry.name, None)
            entry.name = None
            entry.blocked_until = 0.0

    def forget_name(self, name: str) -> None:
        """The provider no longer has the cache ``name``."""
        slot = self._names.pop(name, None)
        if slot is not None:
            self.forget(slot)

    def upkeep(self, provider: str, model: str, tokens: int, ttl_seconds: int) -> Cost | None:
        """What a cache of ``tokens`` tokens living ``ttl_seconds`` costs besides the requests
        that read it: its tokens at the input price and its storage, at list price; None when
        the catalogue does not price it."""
        sheet = self._sheet(provider, model)
        if sheet is None or sheet.cache_storage is None:
            return None
        band = sheet.band_for(tokens)
        usd = tokens * band.input / _MILLION
        usd += tokens * sheet.cache_storage * Decimal(ttl_seconds) / _HOUR / _MILLION
        pico = usd_to_pico(usd.quantize(Decimal("1e-12")))
        return Cost(list_pico=pico, paid_pico=pico)

    def _seen(self, slot: Slot, now: float, window: int) -> _Entry:
        entry = self._entries.get(slot)
        if entry is None:
            entry = self._entries[slot] = _Entry(sightings=deque())
            while len(self._entries) > self._capacity:
                _, gone = self._entries.popitem(last=False)
                if gone.name is not None:
                    self._names.pop(gone.name, None)
        self._entries.move_to_end(slot)
        sightings = entry.sightings
        sightings.append(now)
        while sightings and sightings[0] <= now - window:
            sightings.popleft()
        while len(sightings) > MAX_SIGHTINGS:  # enough to decide; bounded memory
            sightings.popleft()
        return entry

    def _pays(
        self, provider: str, model: str, prefix: CachePrefix, seen: int, ttl_seconds: int
    ) -> bool:
        if seen < MIN_SIGHTINGS:
            return False
        entry = self._catalogue.get(provider, model)
        sheet = self._sheet(provider, model)
        if entry is None or sheet is None or sheet.cache_storage is None:
            return False
        if not entry.capabilities.prompt_caching:
            return False
        minimum = entry.capabilities.min_cacheable_tokens or DEFAULT_MIN_TOKENS
        if (prefix.chars + 3) // 4 < minimum:
            return False
        band = sheet.band_for(prefix.chars // 4)
        read = band.cached_input if band.cached_input is not None else band.input
        cost = band.input + sheet.cache_storage * Decimal(ttl_seconds) / _HOUR
        return seen * (band.input - read) > cost

    def _sheet(self, provider: str, model: str) -> PriceSheet | None:
        entry = self._catalogue.get(provider, model)
        return entry.sheet_at(datetime.fromtimestamp(self._clock(), UTC).date()) if entry else None
