"""Entry point of the ``keyroute`` command (and ``python -m keyroute``)."""

from __future__ import annotations

from keyroute.cli import (
    alerts,
    audit,
    caching,
    catalogue,
    fallback,
    governance,
    resources,
    routing,
    system,
    usage,
)
from keyroute.cli.group import cli

__all__ = [
    "alerts",
    "audit",
    "caching",
    "catalogue",
    "fallback",
    "governance",
    "main",
    "resources",
    "routing",
    "system",
    "usage",
]


def main() -> None:
    cli(prog_name="keyroute")
