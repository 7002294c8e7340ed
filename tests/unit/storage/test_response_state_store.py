"""One behavioural suite for every ``ResponseStateStore`` backend (memory and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyroute.storage.base import ResponseStateRecord, Store, WorkspaceRecord

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def turn(rid: str, ws: str = "w1", days: int = 30, text: str = "") -> ResponseStateRecord:
    return ResponseStateRecord(
        workspace_id=ws,
        response_id=rid,
        nonce=b"n" * 12,
        ciphertext=f"{ws}/{rid}/{text}".encode(),
        created_at=T0,
        expires_at=T0 + timedelta(days=days),
    )


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def test_put_get_replace_and_isolation(store: Store) -> None:
    states = store.responses
    assert await states.put_responses([]) == 0
    assert await states.put_responses([turn("r1"), turn("r1", ws="w2"), turn("r2")]) == 3
    assert await states.get_response("w1", "r1") == turn("r1")
    assert await states.get_response("w2", "r2") is None  # another workspace's id
    assert await states.put_responses([turn("r1", text="new")]) == 1
    assert await states.get_response("w1", "r1") == turn("r1", text="new")


async def test_unknown_workspace_is_skipped(store: Store) -> None:
    assert await store.responses.put_responses([turn("r1", ws="gone"), turn("r1")]) == 1
    assert await store.responses.get_response("gone", "r1") is None


async def test_delete(store: Store) -> None:
    await store.responses.put_responses([turn("r1"), turn("r1", ws="w2")])
    assert await store.responses.delete_response("w1", "r1") is True
    assert await store.responses.delete_response("w1", "r1") is False
    assert await store.responses.get_response("w2", "r1") == turn("r1", ws="w2")


async def test_prune_removes_only_expired(store: Store) -> None:
    await store.responses.put_responses([turn("old", days=1), turn("new", days=30)])
    assert await store.responses.prune_responses(T0 + timedelta(days=2)) == 1
    assert await store.responses.get_response("w1", "old") is None
    assert await store.responses.get_response("w1", "new") is not None


async def test_deleting_the_workspace_drops_its_turns(store: Store) -> None:
    await store.responses.put_responses([turn("r1")])
    await store.delete_workspace("w1")
    assert await store.responses.get_response("w1", "r1") is None
