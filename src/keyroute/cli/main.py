"""Entry point of the ``keyroute`` command (and ``python -m keyroute``)."""

from __future__ import annotations

from keyroute.cli import audit, catalogue, resources, system, usage
from keyroute.cli.group import cli

__all__ = ["audit", "catalogue", "main", "resources", "system", "usage"]


def main() -> None:
    cli(prog_name="keyroute")
