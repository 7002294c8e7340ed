"""``keyroute.storage.sqlite_changes.SqliteChangeFeed`` over a real SQLite file.

The feed's behaviour with ``SqliteStore`` writers is in the shared suite
(``test_store.py``); here: what it reads from the file by itself.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from keyroute.storage.sqlite import SqliteStore
from keyroute.storage.sqlite_changes import SqliteChangeFeed

pytestmark = pytest.mark.anyio


def commit(path: Path, *statements: str) -> None:
    """Another process writes the file directly."""
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


@pytest.fixture
async def path(tmp_path: Path, anyio_backend: str) -> Path:
    path = tmp_path / "k.db"
    await SqliteStore(str(path)).migrate()
    return path


async def test_reads_rows_above_what_it_saw(path: Path) -> None:
    feed = SqliteChangeFeed(path)
    await feed.refresh()  # not open: nothing to read, no error
    await feed.open()
    assert feed.latest() == 0
    commit(
        path,
        "INSERT INTO workspace_changes VALUES ('w1', 4)",
        "INSERT INTO settings VALUES ('config_revision', '4')",
    )
    await feed.refresh()
    assert (feed.revision("w1"), feed.latest()) == (4, 4)
    # A commit that is not a configuration change: the poll reads nothing new.
    commit(path, "INSERT INTO settings VALUES ('other', 'x')")
    await feed.refresh()
    assert (feed.revision("w1"), feed.latest()) == (4, 4)
    commit(
        path,
        "UPDATE workspace_changes SET revision = 6 WHERE workspace_id = 'w1'",
        "INSERT INTO workspace_changes VALUES ('w2', 5)",
        "UPDATE settings SET value = '6' WHERE key = 'config_revision'",
    )
    await feed.refresh()
    assert (feed.revision("w1"), feed.revision("w2"), feed.latest()) == (6, 5, 6)
    feed.close()
    feed.close()  # idempotent


async def test_close_waits_for_a_read_and_a_later_read_reads_nothing(path: Path) -> None:
    feed = SqliteChangeFeed(path)
    await feed.open()
    commit(
        path,
        "INSERT INTO workspace_changes VALUES ('w1', 2)",
        "INSERT INTO settings VALUES ('config_revision', '2')",
    )
    done = threading.Event()

    def close() -> None:
        feed.close()
        done.set()

    with feed._lock:  # a read in flight on the worker thread holds the connection
        closer = threading.Thread(target=close)
        closer.start()
        assert not done.is_set()  # close cannot finish while the read holds the lock
        assert feed._read(feed._conn) == ({"w1": 2}, 2)  # type: ignore[arg-type]
    closer.join()
    assert done.is_set()
    assert feed._read_locked() == ({}, 0)  # a read scheduled before close, run after it
    await feed.refresh()  # closed: nothing to read, no error
