"""``PriceBook``: what a request cost a workspace, from the catalogue and its overrides.

The pipeline's one entry point for cost is ``PriceBook.cost(workspace_id, provider, model,
usage) -> Cost``: synchronous, no I/O. ``await PriceBook.prepare(workspace_id)`` once per request
(before settlement) loads the workspace's overrides if they are not cached; they are cached per
workspace and reloaded when the workspace's revision in the store's ``ChangeFeed`` moves, so an
override set by any process applies as soon as the feed sees it, without a restart.

Rules (docs/reference.md, "Prices and cost"):
- List price: the workspace's price override for the model if any (token classes it does not
  name keep the catalogue's base price; the catalogue's long-context tiers do not apply under an
  override), else the catalogue's sheet in effect today (UTC), its tier chosen by prompt size.
- Paid price: list less the workspace's discount for the model, else for the provider, else 0.
- No sheet and no override: the cost is ``UNKNOWN`` (never 0), except on self-hosted providers
  (ollama, vllm), where no one bills per token and the cost is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from keyroute.accounting.cost import Tariff
from keyroute.catalogue.book import Catalogue
from keyroute.catalogue.entries import TOKEN_CLASSES, PriceBand, check_band
from keyroute.core.money import UNKNOWN, Cost
from keyroute.core.response import Usage
from keyroute.storage.base import PriceOverrideRecord, Store

PROVIDER_WIDE = ""
"""The ``model`` of an override that applies to every model of its provider."""

_FREE_TARIFF = Tariff.of(PriceBand(input=Decimal(0), output=Decimal(0)))


def utc_today() -> date:
    return datetime.now(UTC).date()


def override_band(base: PriceBand | None, prices: Mapping[str, Decimal]) -> PriceBand:
    """``prices`` laid over ``base``'s prices; ``ValueError`` naming the class if invalid.

    The result must price ``input`` and ``output`` (a model the catalogue does not price needs
    both in the override).
    """
    unknown = sorted(set(prices) - set(TOKEN_CLASSES))
    if unknown:
        raise ValueError(
            f"unknown token class {', '.join(unknown)}; known: {', '.join(TOKEN_CLASSES)}"
        )
    merged: dict[str, Decimal] = dict(base.prices()) if base is not None else {}
    if "cache_write" in prices:
        merged.pop("cache_write_5m", None)
    if "cache_write_5m" in prices:
        merged.pop("cache_write", None)
    merged.update(prices)
    missing = [name for name in ("input", "output") if name not in merged]
    if missing:
        raise ValueError(
            f"a model with no catalogue price needs {' and '.join(missing)} in the override"
        )
    band = PriceBand(**merged)
    check_band(band, "price")
    return band


@dataclass(frozen=True, slots=True)
class _Resolved:
    """One model's tariff and discount for one workspace on one day."""

    day: date
    tariff: Tariff | None  # None: no known price
    discount: Decimal


class _WorkspacePrices:
    def __init__(self, records: Iterable[PriceOverrideRecord]) -> None:
        self.discounts: dict[tuple[str, str], Decimal] = {}
        self.prices: dict[tuple[str, str], Mapping[str, Decimal]] = {}
        for r in records:
            if r.discount_percent is not None:
                self.discounts[(r.provider, r.model)] = r.discount_percent
            if r.prices:
                self.prices[(r.provider, r.model)] = r.prices
        self.resolved: dict[tuple[str, str], _Resolved] = {}


class PriceBook:
    """List and paid cost of a request for a workspace. One per process (``Services``)."""

    def __init__(
        self, catalogue: Catalogue, store: Store, *, today: Callable[[], date] = utc_today
    ) -> None:
        self._catalogue = catalogue
        self._store = store
        self._today = today
        # workspace id -> (its overrides, the workspace's revision before they were read)
        self._workspaces: dict[str, tuple[_WorkspacePrices, int]] = {}

    async def prepare(self, workspace_id: str) -> None:
        """Make ``cost`` ready for ``workspace_id``: loads its overrides unless cached."""
        revision = self._store.changes.revision(workspace_id)
        cached = self._workspaces.get(workspace_id)
        if cached is None or cached[1] != revision:
            records = await self._store.list_price_overrides(workspace_id)
            self._workspaces[workspace_id] = (_WorkspacePrices(records), revision)

    def invalidate(self, workspace_id: str | None = None) -> None:
        """Drop the cached overrides of one workspace (or of all)."""
        if workspace_id is None:
            self._workspaces.clear()
        else:
            self._workspaces.pop(workspace_id, None)

    def cost(self, workspace_id: str, provider: str, model: str, usage: Usage) -> Cost:
        """What ``usage`` on ``provider``'s ``model`` cost the workspace, list and paid.

        ``model`` is the provider's model name (an id or alias of the catalogue, or any name
        for hosts the catalogue does not know). Raises ``LookupError`` if ``prepare`` was not
        awaited for the workspace, ``ValueError`` for usage that breaks its invariants.
        """
        try:
            prices = self._workspaces[workspace_id][0]
        except KeyError:
            raise LookupError(f"PriceBook.prepare({workspace_id!r}) was not awaited") from None
        day = self._today()
        key = (provider, model)
        resolved = prices.resolved.get(key)
        if resolved is None or resolved.day != day:
            resolved = self._resolve(prices, provider, model, day)
            prices.resolved[key] = resolved
        if resolved.tariff is None:
            return UNKNOWN
        return resolved.tariff.cost(usage, resolved.discount)

    def _resolve(self, prices: _WorkspacePrices, provider: str, model: str, day: date) -> _Resolved:
        entry = self._catalogue.get(provider, model)
        model_id = entry.id if entry is not None else model
        sheet = entry.sheet_at(day) if entry is not None else None
        discount = prices.discounts.get(
            (provider, model_id), prices.discounts.get((provider, PROVIDER_WIDE), Decimal(0))
        )
        override = prices.prices.get((provider, model_id))
        tariff: Tariff | None
        if override is not None:
            tariff = Tariff.of(override_band(sheet, override))
        elif sheet is not None:
            tariff = Tariff.of(sheet)
        elif self._catalogue.provider(provider).self_hosted:
            tariff = _FREE_TARIFF
        else:
            tariff = None
        return _Resolved(day=day, tariff=tariff, discount=discount)
