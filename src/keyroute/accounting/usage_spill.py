"""``UsageSpill``: the usage rows the database could not take yet, in local spill files.

A ``batching.spill.Spill`` of ``UsageRow`` (files ``usage-*.jsonl``); see that module for the
invariants (append-only, ``flock``-held while open, fsynced by ``sync``, a torn last line is the
only row a crash can cost). Here: the row's line format, JSON with every ``UsageRow`` field.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from keyroute.batching.spill import ClaimedFile, Spill
from keyroute.storage.base import UsageRow

__all__ = ["ClaimedFile", "UsageSpill", "decode_row", "encode_row"]

_FIELDS = {f.name for f in dataclasses.fields(UsageRow)}


def encode_row(row: UsageRow) -> str:
    values: dict[str, Any] = {name: getattr(row, name) for name in _FIELDS}
    values["time"] = row.time.isoformat()
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def decode_row(line: str) -> UsageRow:
    values = json.loads(line)
    if not isinstance(values, dict) or set(values) != _FIELDS:
        raise ValueError("not a usage row")
    values["time"] = datetime.fromisoformat(values["time"])
    return UsageRow(**values)


class UsageSpill(Spill[UsageRow]):
    """Usage spill files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, prefix="usage", encode=encode_row, decode=decode_row)
