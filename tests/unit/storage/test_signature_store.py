"""One behavioural suite for every ``SignatureStore`` backend (memory and SQLite)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from keyroute.storage.base import SignatureRecord, Store, WorkspaceRecord

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sig(call: str, ws: str = "w1", model: str = "gemini/g3", at: int = 0) -> SignatureRecord:
    return SignatureRecord(
        workspace_id=ws,
        call_id=call,
        model=model,
        nonce=b"n" * 12,
        ciphertext=f"{ws}/{call}/{model}".encode(),
        created_at=T0 + timedelta(minutes=at),
    )


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def test_put_get_replace(store: Store) -> None:
    sigs = store.signatures
    assert await sigs.put_signatures([]) == 0
    assert await sigs.get_signatures("w1", "gemini/g3", []) == []
    assert await sigs.put_signatures([sig("a"), sig("b"), sig("a", model="gemini/g4")]) == 3
    found = await sigs.get_signatures("w1", "gemini/g3", ["a", "b", "c", "a"])
    assert sorted(found, key=lambda r: r.call_id) == [sig("a"), sig("b")]
    assert await sigs.get_signatures("w1", "gemini/g4", ["a", "b"]) == [sig("a", model="gemini/g4")]
    assert await sigs.get_signatures("w2", "gemini/g3", ["a"]) == []
    newer = dataclasses.replace(sig("a", at=5), ciphertext=b"again")
    assert await sigs.put_signatures([newer]) == 1
    assert await sigs.get_signatures("w1", "gemini/g3", ["a"]) == [newer]


async def test_unknown_workspaces_are_skipped(store: Store) -> None:
    assert await store.signatures.put_signatures([sig("a", ws="gone"), sig("a", ws="w2")]) == 1
    assert await store.signatures.get_signatures("gone", "gemini/g3", ["a"]) == []


async def test_prune_and_workspace_deletion(store: Store) -> None:
    sigs = store.signatures
    await sigs.put_signatures([sig("old", at=0), sig("new", at=10), sig("x", ws="w2", at=0)])
    assert await sigs.prune_signatures(T0 + timedelta(minutes=5)) == 2
    assert [r.call_id for r in await sigs.get_signatures("w1", "gemini/g3", ["old", "new"])] == [
        "new"
    ]
    await store.delete_workspace("w1")
    assert await sigs.get_signatures("w1", "gemini/g3", ["new"]) == []
