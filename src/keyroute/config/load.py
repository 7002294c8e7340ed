"""Build a ``Config``: defaults -> TOML file -> ``KEYROUTE__SECTION__KEY`` -> contract env vars.

The file is ``--config PATH``, else ``KEYROUTE_CONFIG``, else ``<data dir>/keyroute.toml`` when it
exists. Errors name the full key path and the bad value, and are ``ConfigError``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from keyroute.config.schema import Config
from keyroute.core.errors import ConfigError

_PREFIX = "KEYROUTE__"


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    data_dir = env.get("KEYROUTE_DATA_DIR")
    file = Path(path) if path else _default_file(env, data_dir)
    if file is not None:
        data = _read_toml(file)
    for name, value in env.items():
        if name.startswith(_PREFIX):
            _set_path(data, name[len(_PREFIX) :].lower().split("__"), value)
    if data_dir:
        data["data_dir"] = data_dir
    if env.get("KEYROUTE_DATABASE_URL"):
        data["database_url"] = env["KEYROUTE_DATABASE_URL"]
    if env.get("KEYROUTE_MASTER_KEY"):
        data["master_key"] = env["KEYROUTE_MASTER_KEY"]
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _default_file(env: Mapping[str, str], data_dir: str | None) -> Path | None:
    explicit = env.get("KEYROUTE_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = Path(data_dir or ".keyroute") / "keyroute.toml"
    return candidate if candidate.is_file() else None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {file} is not valid TOML: {exc}") from None


def _set_path(data: dict[str, Any], keys: list[str], value: str) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"Config key {'.'.join(keys)} conflicts with a value set elsewhere")
        node = child
    node[keys[-1]] = value


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        # Unknown keys may be a misplaced secret: their values are never echoed, nor those of
        # secrets, nor a whole section's (a check across its keys: it holds its password too).
        value = err.get("input")
        secret = (
            any(s in where for s in ("master_key", "password"))
            or err["type"] == "extra_forbidden"
            or isinstance(value, dict)
        )
        shown = "(hidden)" if secret else repr(value)
        lines.append(f"{where}: {err['msg']} (got {shown})")
    return "Invalid configuration: " + "; ".join(lines)


def export_for_workers(path: str | Path | None) -> None:
    """Make ``path`` the config file of worker processes that ``serve --workers`` starts."""
    if path:
        os.environ["KEYROUTE_CONFIG"] = str(Path(path).resolve())
