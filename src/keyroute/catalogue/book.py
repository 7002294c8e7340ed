"""``Catalogue``: the loaded model catalogue and its lookups; ``builtin()`` the shipped one.

Loading reads TOML with every number as an exact ``Decimal`` (never a float), converts each
model entry on its own so an error names it (``models.toml: model 'openai/gpt-x' (entry 3):
...``), then checks the rules of ``entries``. Ids and aliases are unique per provider.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any

import msgspec

from keyroute.catalogue.entries import CatalogueError, ModelEntry, ProviderEntry, check_model

DATA_FILE = "models.toml"


class Catalogue:
    """Immutable lookups over providers and models."""

    def __init__(
        self, providers: Mapping[str, ProviderEntry], models: tuple[ModelEntry, ...]
    ) -> None:
        self._providers = dict(providers)
        self._models = models
        self._by_name: dict[tuple[str, str], ModelEntry] = {}
        self._by_bare: dict[str, list[ModelEntry]] = {}
        for entry in models:
            for name in (entry.id, *entry.aliases):
                self._by_name[(entry.provider, name)] = entry
                self._by_bare.setdefault(name, []).append(entry)

    @property
    def models(self) -> tuple[ModelEntry, ...]:
        return self._models

    def provider(self, name: str) -> ProviderEntry:
        """The provider's facts; a provider the file does not name gets the defaults."""
        return self._providers.get(name, ProviderEntry())

    def provider_models(self, provider: str) -> tuple[str, ...]:
        """The ids of ``provider``'s models, in file order."""
        return tuple(m.id for m in self._models if m.provider == provider)

    def get(self, provider: str, model: str) -> ModelEntry | None:
        """The entry for ``model`` (an id or an alias) of ``provider``."""
        return self._by_name.get((provider, model))

    def find(self, ref: str) -> ModelEntry | None:
        """The entry for ``provider/model``, or for a bare id or alias that only one provider
        has (``gpt-6.2-sol``); None when unknown or ambiguous."""
        entry = None
        provider, slash, model = ref.partition("/")
        if slash:
            entry = self.get(provider, model)
        if entry is None:
            found = self._by_bare.get(ref, [])
            entry = found[0] if len(found) == 1 else None
        return entry

    def provider_for_bare_model(self, model: str) -> str | None:
        """The provider whose model family a bare name (no ``provider/``) belongs to."""
        for name, provider in self._providers.items():
            if any(model.startswith(prefix) for prefix in provider.bare_prefixes):
                return name
        return None


def _entry_name(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        return f"model '{raw.get('provider', '?')}/{raw.get('id', '?')}' (entry {index})"
    return f"entry {index}"


def _model(raw: Any, where: str) -> ModelEntry:
    try:
        entry = msgspec.convert(raw, ModelEntry)
    except msgspec.ValidationError as err:
        raise CatalogueError(f"{where}: {err}") from None
    try:
        check_model(entry, "")
    except CatalogueError as err:
        raise CatalogueError(f"{where}: {str(err).lstrip(': .')}") from None
    return entry


def parse(text: str, *, name: str = DATA_FILE) -> Catalogue:
    """A validated ``Catalogue`` from TOML text; ``CatalogueError`` names what is wrong."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{name}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"providers", "models"})
    if unknown:
        raise CatalogueError(f"{name}: unknown top-level key(s) {', '.join(unknown)}")
    try:
        providers = msgspec.convert(data.get("providers", {}), dict[str, ProviderEntry])
    except msgspec.ValidationError as err:
        raise CatalogueError(f"{name}: providers: {err}") from None
    raw_models = data.get("models", [])
    if not isinstance(raw_models, list):
        raise CatalogueError(f"{name}: 'models' must be an array of tables ([[models]])")
    models: list[ModelEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(raw_models):
        where = f"{name}: {_entry_name(raw, index)}"
        entry = _model(raw, where)
        for alias in (entry.id, *entry.aliases):
            key = (entry.provider, alias)
            if key in seen:
                raise CatalogueError(f"{where}: '{alias}' is already used by {seen[key]}")
            seen[key] = entry.ref
        models.append(entry)
    return Catalogue(providers, tuple(models))


@functools.cache
def builtin() -> Catalogue:
    """The catalogue shipped in this package (read once per process, immutable)."""
    text = resources.files("keyroute.catalogue").joinpath(DATA_FILE).read_text("utf-8")
    return parse(text)
