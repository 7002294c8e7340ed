"""The model catalogue: facts about every model keyroute knows, shipped as data.

``models.toml`` (in this package) holds, per model, its provider, id, family and aliases,
context window, output limit, capabilities, and dated price sheets (USD per million tokens for
every token class the provider bills, long-context tiers included), each with its source URL.
``entries`` defines and validates the shapes; ``book`` loads the file and answers lookups.

Invariants:
- The file is validated completely at load; an error names the entry and the field.
- Entries are immutable; a process loads the shipped file once (``builtin()``) and never
  changes it. Workspace price overrides live in storage, not here.
- Imports only ``core``, msgspec and the standard library, so ``providers`` may read it.
"""

from keyroute.catalogue.book import Catalogue, builtin
from keyroute.catalogue.entries import (
    Capabilities,
    ModelEntry,
    PriceBand,
    PriceSheet,
    ProviderEntry,
)

__all__ = [
    "Capabilities",
    "Catalogue",
    "ModelEntry",
    "PriceBand",
    "PriceSheet",
    "ProviderEntry",
    "builtin",
]
