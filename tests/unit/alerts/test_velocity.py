from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyroute.alerts.velocity import Counts, VelocityBoard

T0 = datetime(2026, 3, 31, 23, 58, 30, tzinfo=UTC)  # across a day and a month boundary
USD = 10**12


def spend(board: VelocityBoard, at: datetime, usd: float, key: str = "k1", failed=False) -> None:
    board.add("w1", at, key=key, model="m", user=None, spend_pico=int(usd * USD), failed=failed)


def test_window_sums_the_buckets_it_overlaps_and_rates_by_their_span() -> None:
    board = VelocityBoard(bucket_seconds=60)
    for i in range(10):  # one request every 30 s, $0.05 each, for five minutes
        spend(board, T0 + timedelta(seconds=30 * i), 0.05)
    now = T0 + timedelta(minutes=5)
    window = board.window("w1", now, 300)
    assert window.counts == Counts(10 * 5 * 10**10, 10, 0)
    # The oldest bucket started at 23:58:00, 330 s before now.
    assert window.span_seconds == 330
    assert window.per_hour(window.counts.requests) == pytest.approx(10 * 3600 / 330)
    assert board.window("w2", now, 300).counts == Counts()


def test_top_ranks_by_spend_within_the_window() -> None:
    board = VelocityBoard(bucket_seconds=60)
    spend(board, T0, 5.0, key="old")  # outside a two-minute window later on
    spend(board, T0 + timedelta(minutes=5), 1.0, key="a")
    spend(board, T0 + timedelta(minutes=5), 2.0, key="b", failed=True)
    now = T0 + timedelta(minutes=6)
    top = board.top("w1", "key", now, 120)
    assert [(k, c.spend_pico) for k, c in top] == [("b", 2 * USD), ("a", USD)]
    assert top[0][1].errors == 1
    assert [k for k, _ in board.top("w1", "key", now, 3600, limit=1)] == ["old"]
    assert board.top("nobody", "key", now, 60) == []


def test_replace_makes_recent_buckets_what_the_store_says() -> None:
    board = VelocityBoard(bucket_seconds=60)
    spend(board, T0, 1.0)
    spend(board, T0 + timedelta(minutes=3), 1.0)
    since = T0 + timedelta(minutes=2)
    start = board.bucket(since)
    board.replace(
        "w1",
        since,
        {start: Counts(3 * USD, 4, 1)},
        {"key": {start: {"k9": Counts(3 * USD, 4, 1)}}},
    )
    now = T0 + timedelta(minutes=5)
    assert board.window("w1", now, 600).counts == Counts(4 * USD, 5, 1)
    assert [k for k, _ in board.top("w1", "key", now, 600)] == ["k9", "k1"]
    assert board.top("w1", "model", now, 120) == []  # replaced by nothing


def test_prune_and_spend_since() -> None:
    board = VelocityBoard(bucket_seconds=60, retention_seconds=3600)
    spend(board, T0, 1.0)
    spend(board, T0 + timedelta(hours=2), 2.0)
    minute = T0.replace(second=0)
    assert board.spend_since("w1", minute) == 3 * USD
    assert board.spend_since("w1", minute + timedelta(minutes=1)) == 2 * USD
    board.prune(T0 + timedelta(hours=2))
    assert board.spend_since("w1", minute) == 2 * USD
    board.forget(["w1"])
    assert board.spend_since("w1", T0) == 0


def test_bucket_width_divides_a_day() -> None:
    with pytest.raises(ValueError, match="divides a day"):
        VelocityBoard(bucket_seconds=7)


def test_one_key_or_user_of_a_workspace() -> None:
    board = VelocityBoard(bucket_seconds=60)
    spend(board, T0, 1.0, key="a")
    spend(board, T0 + timedelta(minutes=1), 2.0, key="b")
    board.add("w1", T0, key="a", model="m", user="u1", spend_pico=4 * USD, failed=True)
    now = T0 + timedelta(minutes=2)
    minute = T0.replace(second=0)
    assert board.spend_since("w1", minute, ("key", "a")) == 5 * USD
    assert board.spend_since("w1", minute, ("key", "b")) == 2 * USD
    assert board.spend_since("w1", minute, ("user", "u1")) == 4 * USD
    assert board.spend_since("w1", minute, ("user", "nobody")) == 0
    assert board.window("w1", now, 300, ("key", "a")).counts == Counts(5 * USD, 2, 1)
    assert board.window("w1", now, 300).counts == Counts(7 * USD, 3, 1)
    assert board.window("w2", now, 300, ("key", "a")).counts == Counts()
