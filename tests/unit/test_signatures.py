"""``keyroute.signatures.SignatureCache``: bounded, per-workspace and per-model tool-call
signatures, stored sealed so another worker (or a restarted one) can replay them."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel
import pytest

from keyroute.control.plane import ControlPlane
from keyroute.core.errors import AuthError
from keyroute.signatures import SignatureCache, signature_model
from keyroute.storage.base import WorkspaceRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key


def filled(capacity: int, *calls: str) -> SignatureCache:
    cache = SignatureCache(capacity)
    for call in calls:
        cache.put("ws", call, "m", f"sig-{call}")
    return cache


def kept(cache: SignatureCache, *calls: str) -> list[str]:
    return [c for c in calls if cache.get("ws", c, "m") is not None]


def test_put_and_get() -> None:
    cache = filled(10, "a")
    assert cache.get("ws", "a", "m") == "sig-a"
    assert cache.get("ws", "b", "m") is None
    assert len(cache) == 1


def test_workspaces_do_not_share_entries() -> None:
    cache = filled(10, "a")
    assert cache.get("other", "a", "m") is None
    cache.put("other", "a", "m", "theirs")
    assert (cache.get("ws", "a", "m"), cache.get("other", "a", "m")) == ("sig-a", "theirs")
    assert len(cache) == 2


def test_capacity_drops_the_oldest_first() -> None:
    cache = filled(2, "a", "b", "c")
    assert len(cache) == 2
    assert kept(cache, "a", "b", "c") == ["b", "c"]


def test_put_again_refreshes_and_replaces() -> None:
    cache = filled(2, "a", "b")
    cache.put("ws", "a", "m", "new")
    cache.put("ws", "c", "m", "sig-c")
    assert kept(cache, "a", "b", "c") == ["a", "c"]
    assert cache.get("ws", "a", "m") == "new"


def test_capacity_one() -> None:
    cache = filled(1, "a", "b")
    assert kept(cache, "a", "b") == ["b"]


def test_default_capacity_is_large() -> None:
    cache = SignatureCache()
    for i in range(1000):
        cache.put("ws", str(i), "m", "s")
    assert len(cache) == 1000


def test_reading_counts_as_use() -> None:
    # The module docstring promises "least recently used entries go first": a signature that was
    # just replayed should outlive one that was written later but never read.
    cache = filled(2, "a", "b")
    assert cache.get("ws", "a", "m") == "sig-a"
    cache.put("ws", "c", "m", "sig-c")
    assert kept(cache, "a", "b", "c") == ["a", "c"]


def test_models_do_not_share_entries() -> None:
    cache = filled(10, "a")
    assert cache.get("ws", "a", "gemini/other-model") is None


# Stored: a second cache over the same store is another worker, or this one after a restart.

T0 = datetime(2026, 12, 1, tzinfo=UTC)
MODEL = signature_model("gemini", "gemini-3.5-flash")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.vault = KeyVault(self.store, MasterKeyring.from_env(new_master_key().hex()))
        self.plane = ControlPlane(self.store, self.vault)
        self.clock = Clock()

    def worker(self) -> SignatureCache:
        async def workspace(workspace_id: str) -> WorkspaceRecord:
            record = await self.store.get_workspace(workspace_id)
            if record is None:
                raise AuthError("gone")
            return record

        return SignatureCache(
            store=self.store.signatures,
            vault=self.vault,
            workspace=workspace,
            retention=timedelta(days=7),
            clock=self.clock,
        )


@pytest.fixture
async def world(anyio_backend: str) -> World:
    world = World()
    await world.plane.create_workspace("w")
    return world


async def ws_id(world: World, name: str = "w") -> str:
    return (await world.plane.workspace(name)).id


@pytest.mark.anyio
async def test_another_worker_replays_a_stored_signature(world: World) -> None:
    ws = await ws_id(world)
    first, second = world.worker(), world.worker()
    first.put(ws, "call_1", MODEL, "sig-1")
    assert await first.flush() == 1
    assert await first.flush() == 0  # nothing queued
    (stored,) = await world.store.signatures.get_signatures(ws, MODEL, ["call_1"])
    assert b"sig-1" not in stored.ciphertext  # sealed with the workspace's data key
    assert second.get(ws, "call_1", MODEL) is None
    await second.load(ws, MODEL, ["call_1", "call_unknown"])
    assert second.get(ws, "call_1", MODEL) == "sig-1"
    # Another model, or another workspace, never gets it.
    await second.load(ws, signature_model("gemini", "gemini-3.5-pro"), ["call_1"])
    assert second.get(ws, "call_1", signature_model("gemini", "gemini-3.5-pro")) is None


@pytest.mark.anyio
async def test_a_signature_moved_to_another_key_is_never_replayed(world: World) -> None:
    ws = await ws_id(world)
    worker = world.worker()
    worker.put(ws, "call_1", MODEL, "sig-1")
    await worker.flush()
    (stored,) = await world.store.signatures.get_signatures(ws, MODEL, ["call_1"])
    other = signature_model("gemini", "gemini-3.5-pro")
    await world.store.signatures.put_signatures([dataclasses.replace(stored, model=other)])
    fresh = world.worker()
    await fresh.load(ws, other, ["call_1"])
    assert fresh.get(ws, "call_1", other) is None


@pytest.mark.anyio
async def test_retention(world: World) -> None:
    ws = await ws_id(world)
    worker = world.worker()
    worker.put(ws, "old", MODEL, "sig-old")
    await worker.flush()
    world.clock.now = T0 + timedelta(days=6)
    worker.put(ws, "new", MODEL, "sig-new")
    await worker.flush()
    world.clock.now = T0 + timedelta(days=7, seconds=1)
    fresh = world.worker()
    await fresh.load(ws, MODEL, ["old", "new"])
    assert (fresh.get(ws, "old", MODEL), fresh.get(ws, "new", MODEL)) == (None, "sig-new")
    assert await fresh.prune() == 1
    assert [
        r.call_id for r in await world.store.signatures.get_signatures(ws, MODEL, ["old", "new"])
    ] == ["new"]


@pytest.mark.anyio
async def test_a_deleted_workspace_stores_nothing(world: World) -> None:
    ws = await ws_id(world)
    worker = world.worker()
    worker.put(ws, "call_1", MODEL, "sig-1")
    await world.plane.delete_workspace("w")
    assert await worker.flush() == 0


@pytest.mark.anyio
async def test_the_writer_stores_in_the_background(world: World) -> None:
    ws = await ws_id(world)
    worker = world.worker()
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run_writer)
        worker.put(ws, "call_1", MODEL, "sig-1")
        while not await world.store.signatures.get_signatures(ws, MODEL, ["call_1"]):
            await anyio.lowlevel.checkpoint()
        group.cancel_scope.cancel()


def test_an_unstored_cache_loads_nothing() -> None:
    cache = filled(10, "a")

    async def main() -> None:
        await cache.load("ws", "m", ["b"])
        assert await cache.flush() == 0 and await cache.prune() == 0

    asyncio.run(main())
    assert cache.get("ws", "b", "m") is None
