"""``next-best``: the catalogue's closest models to a failed one that a workspace can reach.

``next_best(catalogue, model, providers, need)`` picks, for the catalogue entry ``model``,
the chat models that

- belong to a provider the workspace holds a key for (``providers``);
- can do whatever the request needs (``need.capabilities``: tools, vision, JSON schema,
  streaming), and whatever of these the original model offers when the request does not say;
- have a context window that holds the request (``need.tokens``: prompt plus requested output);

ranked closest first: models of another provider before the original's own (a fallback is most
often needed when a provider is down or out of quota, where its other models fail alike), then
by the distance of their list price from the original's (blended 3:1 input to output, compared
on a log scale, so half and double the price are equally close), then the larger context
window, then the id. A model without a list price ranks after those with one. At most ``limit``
models are returned; none when the original is not in the catalogue (nothing to compare with).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from keyroute.catalogue import Catalogue
from keyroute.catalogue.entries import ModelEntry

CAPABILITIES = ("streaming", "tools", "vision", "json_schema")


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """What a request asks of a model: capabilities by name, and tokens in the window."""

    capabilities: frozenset[str] = frozenset()
    tokens: int = 0


def blended_price(entry: ModelEntry, day: date) -> float | None:
    """USD per million tokens, three input tokens to one output token (typical chat traffic)."""
    sheet = entry.sheet_at(day)
    if sheet is None:
        return None
    return float(sheet.input * 3 + sheet.output) / 4


def next_best(
    catalogue: Catalogue,
    model: ModelEntry,
    providers: Collection[str],
    need: Need,
    *,
    day: date,
    limit: int = 3,
) -> list[str]:
    """Up to ``limit`` ``provider/model`` ids, closest first (see the module docstring)."""
    wanted = need.capabilities | {
        name for name in CAPABILITIES if getattr(model.capabilities, name)
    }
    price = blended_price(model, day)
    ranked: list[tuple[bool, float, int, str]] = []
    for entry in catalogue.models:
        if entry.provider not in providers or entry.ref == model.ref:
            continue
        caps = entry.capabilities
        if caps.embeddings or not all(getattr(caps, name) for name in wanted):
            continue
        if entry.context_window < need.tokens:
            continue
        other = blended_price(entry, day)
        if price is None or other is None:
            distance = math.inf
        elif price > 0 and other > 0:
            distance = abs(math.log(other / price))
        else:  # a free model (self-hosted, demo): plain difference
            distance = abs(other - price)
        same = entry.provider == model.provider
        ranked.append((same, distance, -entry.context_window, entry.ref))
    ranked.sort()
    return [ref for *_, ref in ranked[:limit]]
