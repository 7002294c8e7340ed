"""Checking workspace price overrides, and reading override files, for ``ControlPlane``.

An override names a provider (its negotiated discount applies to every model of it) or a model
(a discount, or prices replacing the catalogue's list price, or both). Every value is checked
here, once, for the CLI and the admin API; errors name the field (``discount``, ``input``...)
and, for files, the entry.

Override files (``keyroute prices import``), chosen by extension:

- ``.toml``: ``[[overrides]]`` tables;
- ``.json``: ``{"overrides": [...]}`` (or the bare list);
- ``.csv``: a header row naming the columns, one override per row, empty cells not set.

Each override has ``provider`` and/or ``model`` (``provider/model`` or a catalogue id),
optionally ``discount`` (percent, 0 to 100) and prices in USD per million tokens under the
token-class names (``input``, ``cached_input``, ``cache_write``, ``cache_write_5m``,
``cache_write_1h``, ``output``). Numbers are read as exact decimals.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from keyroute.accounting.pricebook import PROVIDER_WIDE, override_band
from keyroute.catalogue.book import Catalogue
from keyroute.catalogue.entries import TOKEN_CLASSES, CatalogueError, check_price
from keyroute.core.errors import InvalidRequest
from keyroute.providers import registry
from keyroute.routing.model_id import check_model_id

FIELDS: tuple[str, ...] = ("provider", "model", "discount", *TOKEN_CLASSES)
"""The keys (and CSV columns) of one override."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChange:
    """One checked override to apply: ``model == ""`` for the whole provider."""

    provider: str
    model: str
    discount: Decimal | None = None
    prices: Mapping[str, Decimal] | None = None


def decimal(value: object, param: str) -> Decimal:
    """An exact decimal from a number or numeric string; ``InvalidRequest`` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidRequest(f"'{param}' must be a number.", param=param)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        shown = ascii(value)[:40]
        raise InvalidRequest(f"'{param}' must be a number, not {shown}.", param=param) from None
    if not number.is_finite():
        raise InvalidRequest(f"'{param}' must be a finite number.", param=param)
    return number


def check_discount(value: object) -> Decimal:
    percent = decimal(value, "discount")
    if not Decimal(0) <= percent <= Decimal(100):
        raise InvalidRequest(
            f"A discount is a percentage from 0 to 100, not {percent}.", param="discount"
        )
    return percent


def target(catalogue: Catalogue, provider: str | None, model: str | None) -> tuple[str, str]:
    """(provider, model id) an override applies to; model "" means the whole provider.

    ``model`` may be ``provider/model`` or an id (or alias) the catalogue knows; an alias is
    stored under its model's id so that it applies whatever name a client uses.
    """
    if not model:
        if not provider:
            raise InvalidRequest("Give a provider or a model.", param="provider")
        return registry.spec(provider).name, PROVIDER_WIDE
    check_model_id(model)
    head, slash, rest = model.partition("/")
    if provider is None and slash and head in registry.provider_names():
        provider, model = head, rest
    elif provider is not None and slash and head == provider:
        model = rest
    if provider is None:
        entry = catalogue.find(model)
        if entry is None:
            raise InvalidRequest(
                f"The catalogue has no model '{model}': name it as provider/model.",
                param="model",
            )
        return entry.provider, entry.id
    registry.spec(provider)
    entry = catalogue.get(provider, model)
    return provider, entry.id if entry is not None else model


def check_prices(
    catalogue: Catalogue,
    provider: str,
    model: str,
    prices: Mapping[str, object],
    day: date,
    existing: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """Checked prices for (provider, model): together with the ``existing`` override they
    must make a valid band over the catalogue's sheet of ``day``."""
    if model == PROVIDER_WIDE:
        raise InvalidRequest(
            "Prices apply to one model: give --model (a discount may cover a provider).",
            param="model",
        )
    checked: dict[str, Decimal] = {}
    for name, value in prices.items():
        if name not in TOKEN_CLASSES:
            raise InvalidRequest(
                f"Unknown token class '{name}'; known: {', '.join(TOKEN_CLASSES)}.", param=name
            )
        price = decimal(value, name)
        try:
            check_price(price, name)
        except CatalogueError as err:
            raise InvalidRequest(str(err), param=name) from None
        checked[name] = price
    entry = catalogue.get(provider, model)
    try:
        override_band(entry.sheet_at(day) if entry else None, {**(existing or {}), **checked})
    except ValueError as err:
        raise InvalidRequest(f"{err}.", param="input") from None
    return checked


def change(
    catalogue: Catalogue,
    raw: Mapping[str, Any],
    day: date,
    existing: Mapping[tuple[str, str], Mapping[str, Decimal]] | None = None,
) -> PriceChange:
    """One override from a mapping of ``FIELDS``; ``InvalidRequest`` naming the field.

    ``existing``: the workspace's current override prices by (provider, model), which the
    new prices are laid over.
    """
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}.",
            param=unknown[0],
        )
    for key in ("provider", "model"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidRequest(f"'{key}' must be a string.", param=key)
    provider, model = target(catalogue, raw.get("provider") or None, raw.get("model") or None)
    discount = raw.get("discount")
    prices = {k: raw[k] for k in TOKEN_CLASSES if raw.get(k) is not None}
    if discount is None and not prices:
        raise InvalidRequest("Give a discount or at least one price.", param="discount")
    return PriceChange(
        provider=provider,
        model=model,
        discount=None if discount is None else check_discount(discount),
        prices=check_prices(
            catalogue, provider, model, prices, day, (existing or {}).get((provider, model))
        )
        if prices
        else None,
    )


def _entries(text: str, fmt: str) -> list[Any]:
    if fmt == "toml":
        data: Any = tomllib.loads(text, parse_float=Decimal)
    elif fmt == "json":
        data = json.loads(text, parse_float=Decimal)
    else:
        rows = csv.DictReader(io.StringIO(text))
        return [{k: v for k, v in row.items() if v not in ("", None)} for row in rows]
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"overrides"})
        if unknown:
            raise InvalidRequest(
                f"Unknown top-level key(s) {', '.join(unknown)}: use 'overrides'.",
                param="overrides",
            )
        data = data.get("overrides", [])
    if not isinstance(data, list):
        raise InvalidRequest("'overrides' must be a list of overrides.", param="overrides")
    return data


def parse_file(catalogue: Catalogue, text: str, fmt: str, day: date) -> list[PriceChange]:
    """Every override of a file, all checked before any is applied."""
    if fmt not in ("toml", "json", "csv"):
        raise InvalidRequest(
            f"Unknown override file format '{fmt}': use .toml, .json or .csv.", param="format"
        )
    try:
        entries = _entries(text, fmt)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error) as err:
        raise InvalidRequest(f"The {fmt} file cannot be read: {err}", param="file") from None
    changes = []
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise InvalidRequest(f"Entry {index}: an override is a table/object.", param="file")
        try:
            changes.append(change(catalogue, raw, day))
        except InvalidRequest as err:
            raise InvalidRequest(f"Entry {index}: {err.message}", param=err.param) from None
    return changes
