"""``keyroute.storage.file_modes``: the database file and its WAL companions are 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyroute.storage.base import WorkspaceRecord
from keyroute.storage.file_modes import COMPANIONS, secure_files
from keyroute.storage.sqlite import SqliteStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual 022 umask: without the fix, files come out 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in directory.iterdir()}


def test_a_new_database_file_is_created_0600(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    secure_files(db, create=True)
    assert db.read_bytes() == b""
    assert mode(db) == 0o600


def test_existing_files_readable_by_others_are_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    for suffix in COMPANIONS:
        path = tmp_path / f"k.db{suffix}"
        path.write_bytes(b"x")
        path.chmod(0o664)
    secure_files(db, create=False)
    assert {suffix: mode(tmp_path / f"k.db{suffix}") for suffix in COMPANIONS} == dict.fromkeys(
        COMPANIONS, 0o600
    )


def test_missing_files_are_not_created_unless_asked(tmp_path: Path) -> None:
    secure_files(tmp_path / "k.db", create=False)
    assert list(tmp_path.iterdir()) == []


def test_an_owner_only_mode_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    db.write_bytes(b"")
    db.chmod(0o400)
    secure_files(db, create=False)
    assert mode(db) == 0o400


@pytest.mark.anyio
async def test_a_migrated_and_written_store_has_only_private_files(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'k.db'}")
    await store.migrate()
    await store.open()
    try:
        await store.create_workspace(
            WorkspaceRecord(
                id="w1",
                name="w",
                plan="free",
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
                wrapped_data_key=b"k",
                master_key_id="m",
            )
        )
        found = modes(tmp_path)
        assert {"k.db", "k.db-wal", "k.db-shm"} <= set(found)
        assert found == dict.fromkeys(found, 0o600)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_opening_an_older_install_narrows_its_files(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = SqliteStore(f"sqlite:///{db}")
    await store.migrate()
    db.chmod(0o644)
    await store.open()
    await store.close()
    assert mode(db) == 0o600
