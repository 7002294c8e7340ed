"""``open_store(url)``: the storage backend for a database URL, chosen by its scheme.

Backends are named in one table of ``"module:Class"`` strings and imported only when chosen, so
a deployment never imports a driver it does not use. Adding a backend is one line here. The
returned store is not opened yet: call ``migrate()`` and/or ``open()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Final

from keyroute.core.errors import ConfigError
from keyroute.storage.base import Store

# scheme -> "module:Class"; None marks a backend that is planned but not shipped yet.
BACKENDS: Final[Mapping[str, str | None]] = {
    "memory": "keyroute.storage.memory:MemoryStore",
    "sqlite": "keyroute.storage.sqlite:SqliteStore",
    "postgresql": None,
}

_PLANNED: Final[Mapping[str, str]] = {
    "postgresql": "PostgreSQL storage arrives in a later release",
}


def backend_name(database_url: str) -> str:
    """The table key for a URL: ``sqlite+aiosqlite:///x.db`` -> ``sqlite``."""
    scheme, separator, _ = database_url.partition("://")
    if not separator or not scheme:
        raise ConfigError(
            f"database URL {database_url!r} has no scheme; expected one of "
            + ", ".join(f"{name}://" for name in BACKENDS)
        )
    name = scheme.split("+", 1)[0].lower()
    return "postgresql" if name == "postgres" else name


def open_store(database_url: str) -> Store:
    """Build (without opening) the ``Store`` for ``database_url``."""
    name = backend_name(database_url)
    if name not in BACKENDS:
        raise ConfigError(
            f"unknown storage backend {name!r} in the database URL; "
            f"supported: {', '.join(sorted(BACKENDS))}"
        )
    target = BACKENDS[name]
    if target is None:
        raise ConfigError(_PLANNED.get(name, f"{name} storage is not available yet"))
    module_name, _, class_name = target.partition(":")
    factory: Callable[[str], Store] = getattr(importlib.import_module(module_name), class_name)
    return factory(database_url)
