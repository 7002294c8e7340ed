"""``keyroute.storage.sqlite_changes.SqliteChangeFeed`` over a real SQLite file.

The feed's behaviour with ``SqliteStore`` writers is in the shared suite
(``test_store.py``); here: what it reads from the file by itself.
"""

from __future__ import annotations

import sqlite3
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
