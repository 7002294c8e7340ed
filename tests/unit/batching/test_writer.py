"""``BatchWriter`` with a generic item and row: conversion at batch time, skipped items, ids.
(The usage writer's suite, ``tests/unit/accounting/test_usage_writer.py``, covers retries,
spilling and shutdown through the same class.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from keyroute.batching.spill import Spill
from keyroute.batching.writer import BatchWriter

pytestmark = pytest.mark.anyio


def spill_files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


class ListStore:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def append(self, rows: Sequence[tuple[str, str]], /) -> int:
        new = [(i, v) for i, v in rows if i not in self.rows]
        self.rows.update(new)
        return len(new)


def _spill(tmp_path: Path) -> Spill[tuple[str, str]]:
    return Spill(
        tmp_path,
        prefix="t",
        encode=lambda row: f"{row[0]} {row[1]}",
        decode=lambda line: tuple(line.split()),  # type: ignore[arg-type,return-value]
    )


def _row(item: int, row_id: str) -> tuple[str, str] | None:
    return None if item < 0 else (row_id, f"item {item}".replace(" ", "_"))


async def test_items_become_rows_with_fixed_unique_ids(tmp_path: Path) -> None:
    store = ListStore()
    writer = BatchWriter(store, _spill(tmp_path), _row, name="test", batch_size=2)
    for item in (1, 2, -1, 3):
        writer.submit(item)
    assert writer.queued == 4
    assert await writer.drain()
    assert sorted(store.rows.values()) == ["item_1", "item_2", "item_3"]
    assert len(set(store.rows)) == 3 and all(i.startswith("t") for i in store.rows)
    assert writer.written == 3


async def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchWriter(ListStore(), _spill(tmp_path), _row, name="t", batch_size=10, capacity=5)


async def test_past_capacity_items_spill_and_are_replayed(tmp_path: Path) -> None:
    store = ListStore()
    writer = BatchWriter(store, _spill(tmp_path), _row, name="t", batch_size=2, capacity=2)
    for item in range(5):
        writer.submit(item)
    assert writer.queued == 2 and writer.spilled == 3
    assert await writer.drain()
    assert len(store.rows) == 5
    await writer.close()
    assert not spill_files(tmp_path, "t-*.jsonl")
