"""``Spill``: a generic row type through its codec, claimed, replayed, released."""

from __future__ import annotations

from pathlib import Path

from keyroute.batching.spill import Spill


def spill(directory: Path) -> Spill[tuple[int, str]]:
    return Spill(
        directory,
        prefix="pairs",
        encode=lambda row: f"{row[0]}|{row[1]}",
        decode=lambda line: (int(line.split("|")[0]), line.split("|")[1].rstrip("\n")),
    )


def test_rows_round_trip_through_the_codec_in_batches(tmp_path: Path) -> None:
    writer = spill(tmp_path)
    writer.write([(n, f"r{n}") for n in range(5)])
    assert writer.pending and writer.spilled == 5
    writer.seal()
    files = list(tmp_path.glob("pairs-*.jsonl"))
    assert len(files) == 1
    reader = spill(tmp_path)
    [claimed] = reader.claim()
    assert list(reader.batches(claimed, 2)) == [
        [(0, "r0"), (1, "r1")],
        [(2, "r2"), (3, "r3")],
        [(4, "r4")],
    ]
    Spill.release(claimed, done=True)
    assert not list(tmp_path.glob("pairs-*.jsonl"))


def test_an_open_file_is_not_claimed_and_other_prefixes_are_ignored(tmp_path: Path) -> None:
    writer = spill(tmp_path)
    writer.write([(1, "a")])
    writer.sync()
    (tmp_path / "other-1-x.jsonl").write_text("1|b\n")
    assert spill(tmp_path).claim() == []  # the writer still holds its file
    writer.seal()
    [claimed] = spill(tmp_path).claim()
    Spill.release(claimed, done=False)  # kept for a later replay
    assert len(list(tmp_path.glob("pairs-*.jsonl"))) == 1


def test_an_unreadable_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pairs-1-abcd.jsonl").write_text("1|a\nnot a row\n2|b\n")
    reader = spill(tmp_path)
    [claimed] = reader.claim()
    assert list(reader.batches(claimed, 10)) == [[(1, "a"), (2, "b")]]
    Spill.release(claimed, done=True)
