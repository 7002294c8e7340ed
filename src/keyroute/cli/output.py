"""How commands print: a human table or, with ``--json``, one JSON document on stdout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import msgspec


def emit_json(value: Any) -> None:
    click.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def emit(value: Any, as_json: bool, columns: Sequence[str] | None = None) -> None:
    if as_json:
        emit_json(value)
    elif columns is not None and isinstance(value, list):
        emit_table(value, columns)
    elif isinstance(value, dict):
        width = max((len(k) for k in value), default=0)
        for key, item in value.items():
            click.echo(f"{key.ljust(width)}  {'' if item is None else item}")
    else:
        click.echo(str(value))
