"""Fixtures shared by the storage tests: every capability's contract runs on memory and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyroute.storage.base import Store, WorkspaceRecord
from keyroute.storage.registry import open_store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _workspace(workspace_id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=workspace_id,
        name=workspace_id,
        plan="free",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        wrapped_data_key=b"k",
        master_key_id="m",
    )


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[Store]:
    """A migrated, open store of each kind holding workspaces ``w1`` and ``w2``."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'k.db'}"
    backend = open_store(url)
    await backend.migrate()
    await backend.open()
    await backend.create_workspace(_workspace("w1"))
    await backend.create_workspace(_workspace("w2"))
    try:
        yield backend
    finally:
        await backend.close()
