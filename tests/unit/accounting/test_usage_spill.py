"""``UsageSpill``: append-only spill files, claimed only when nobody holds them."""

from __future__ import annotations

import stat
from pathlib import Path

from keyroute.accounting.usage_row import usage_row
from keyroute.accounting.usage_spill import UsageSpill, decode_row, encode_row
from keyroute.core.money import Cost
from keyroute.storage.base import UsageRow
from tests.unit.accounting.conftest import record


def rows(n: int) -> list[UsageRow]:
    made = [usage_row(record(cost=Cost(list_pico=7, paid_pico=None)), f"r{i}") for i in range(n)]
    return [r for r in made if r is not None]


def replay(spill: UsageSpill, size: int = 100) -> list[UsageRow]:
    found: list[UsageRow] = []
    for claimed in spill.claim():
        for batch in spill.batches(claimed, size):
            found.extend(batch)
        spill.release(claimed, done=True)
    return found


def test_a_row_survives_the_round_trip() -> None:
    (row,) = rows(1)
    assert decode_row(encode_row(row)) == row


def test_sealed_rows_are_replayed_and_the_file_deleted(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path / "spill")
    written = rows(5)
    spill.write(written)
    assert spill.pending and spill.spilled == 5
    assert replay(spill) == []  # the open file is this writer's own: not claimable yet
    spill.seal()
    assert not spill.pending
    assert replay(spill) == written
    assert list((tmp_path / "spill").iterdir()) == []


def test_files_are_private(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path / "spill")
    spill.write(rows(1))
    spill.sync()
    (path,) = (tmp_path / "spill").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "spill").stat().st_mode) == 0o700
    spill.close()


def test_another_writers_open_file_is_never_claimed(tmp_path: Path) -> None:
    live, other = UsageSpill(tmp_path), UsageSpill(tmp_path)
    live.write(rows(3))
    live.sync()
    assert other.claim() == []
    live.close()  # the process ended (or crashed): its file is an orphan now
    assert len(replay(other)) == 3


def test_batches_and_a_kept_file(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path)
    spill.write(rows(5))
    spill.seal()
    (claimed,) = spill.claim()
    assert [len(b) for b in spill.batches(claimed, 2)] == [2, 2, 1]
    spill.release(claimed, done=False)  # a failed replay keeps the file
    assert len(replay(spill, 2)) == 5


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path)
    written = rows(2)
    spill.write(written)
    spill.seal()
    (path,) = tmp_path.iterdir()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('\n{"request_id": "req_torn", "work')
    with path.open("a", encoding="utf-8") as handle:
        handle.write('\n{"other": 1}\n')
    assert replay(spill) == written


def test_claim_without_a_directory(tmp_path: Path) -> None:
    assert UsageSpill(tmp_path / "never").claim() == []


def test_writing_nothing_makes_no_file(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path / "spill")
    spill.write([])
    assert not spill.pending and not (tmp_path / "spill").exists()
