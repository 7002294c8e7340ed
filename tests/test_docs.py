"""Docs are tested: every CLI command, admin endpoint and config key is documented, and every
path ARCHITECTURE.md names exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
from pydantic import BaseModel

from keyroute.admin.routes import admin_routes
from keyroute.cli.group import cli
from keyroute.config.schema import Config

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs/reference.md").read_text()


def _commands(group: click.Group, prefix: str = "keyroute") -> list[str]:
    out = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out += _commands(command, path)
        else:
            out.append(path)
    return out


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def test_every_cli_command_is_documented() -> None:
    for command in _commands(cli):
        assert f"`{command}" in REFERENCE, command


def test_every_admin_endpoint_is_documented() -> None:
    for route in admin_routes(None):  # type: ignore[arg-type]
        for method in route.methods or ():
            if method != "HEAD":
                assert f"`{method} {route.path}`" in REFERENCE, (method, route.path)


def test_every_config_key_is_documented() -> None:
    for key in _keys(Config):
        assert f"`{key}`" in REFERENCE, key


def test_architecture_names_only_real_paths() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    src = ROOT / "src/keyroute"
    for name in set(re.findall(r"`([a-z_]+(?:/[a-z_]*)*(?:\.py|/))`", text)):
        found = (src / name).exists() or (ROOT / name).exists()
        found = found or any(src.rglob(name.rstrip("/")))
        assert found, name


def test_security_doc_names_only_real_tests() -> None:
    """Every test docs/security.md cites as proof exists (file, and test function if named)."""
    text = (ROOT / "docs/security.md").read_text()
    cited = re.findall(r"(tests/[\w/]+\.py)((?:::\w+)?)", text)
    assert len(cited) > 30
    for path, name in cited:
        source = ROOT / path
        assert source.is_file(), path
        if name:
            assert f"def {name[2:]}(" in source.read_text(), path + name
