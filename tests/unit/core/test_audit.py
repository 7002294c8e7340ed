"""The audit chain's hash: deterministic, covering every field, linked to the previous row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from keyroute.core.audit import GENESIS, AuditEntry, canonical, chain, checkpoint, row_hash

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENTRY = AuditEntry(id="e1", log="ws_a", time=T0, kind="request", request_id="r1", data="{}")


def test_the_first_row_follows_genesis_and_the_next_follows_it() -> None:
    first = chain(ENTRY, None)
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert first.hash == row_hash(GENESIS, ENTRY, 1)
    second = chain(dataclasses.replace(ENTRY, id="e2"), (first.seq, first.hash))
    assert (second.seq, second.prev_hash) == (2, first.hash)


@pytest.mark.parametrize(
    "change",
    [
        {"id": "e9"},
        {"log": "ws_b"},
        {"time": T0.replace(microsecond=1)},
        {"kind": "admin"},
        {"request_id": "r2"},
        {"api_key_id": "k"},
        {"model": "m"},
        {"served_model": "m"},
        {"status": 500},
        {"end_user": "u"},
        {"action": "a"},
        {"data": '{"a":1}'},
        {"body": b"x"},
    ],
)
def test_every_field_is_covered(change: dict[str, object]) -> None:
    edited = dataclasses.replace(ENTRY, **change)  # type: ignore[arg-type]
    assert row_hash(GENESIS, edited, 1) != row_hash(GENESIS, ENTRY, 1)


def test_the_position_and_the_previous_hash_are_covered() -> None:
    assert row_hash(GENESIS, ENTRY, 1) != row_hash(GENESIS, ENTRY, 2)
    assert row_hash(GENESIS, ENTRY, 1) != row_hash("1" * 64, ENTRY, 1)
    assert canonical(ENTRY, 1) == canonical(ENTRY, 1)


def test_a_checkpoint_names_the_last_pruned_row() -> None:
    pruned = chain(ENTRY, None)
    mark = checkpoint("ws_a", pruned, 1, T0)
    assert mark.kind == "checkpoint" and mark.log == "ws_a"
    assert pruned.hash in mark.data and '"pruned_through_seq":1' in mark.data
