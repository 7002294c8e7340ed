"""``keyroute.response_states.ResponseStates``: per-workspace Responses API turns, read back at
once in the process that made them, sealed in storage for every other worker, expired after
the retention, and waited for (briefly) when another worker has not stored them yet."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from keyroute.control.plane import ControlPlane
from keyroute.core.errors import AuthError
from keyroute.response_states import ResponseStates
from keyroute.storage.base import WorkspaceRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, tzinfo=UTC)
STATE = {"response": {"id": "r1", "output": []}, "input": [], "history": []}


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.vault = KeyVault(self.store, MasterKeyring.from_env(new_master_key().hex()))
        self.plane = ControlPlane(self.store, self.vault)
        self.now = T0
        self.slept: list[float] = []
        self.on_sleep: list[ResponseStates] = []  # a worker that flushes while another waits

    def worker(self) -> ResponseStates:
        async def workspace(workspace_id: str) -> WorkspaceRecord:
            record = await self.store.get_workspace(workspace_id)
            if record is None:
                raise AuthError("gone")
            return record

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            for other in self.on_sleep:
                await other.flush()

        return ResponseStates(
            store=self.store.responses,
            vault=self.vault,
            workspace=workspace,
            retention=timedelta(days=30),
            clock=lambda: self.now,
            fresh_wait=1.0,
            poll=0.25,
            sleep=sleep,
        )


@pytest.fixture
async def world(anyio_backend: str) -> World:
    world = World()
    await world.plane.create_workspace("w")
    return world


async def ws(world: World) -> str:
    return (await world.plane.workspace("w")).id


async def test_read_your_writes_in_one_process(anyio_backend: str) -> None:
    local = ResponseStates()
    local.save("w", "r1", STATE)
    assert await local.get("w", "r1") == STATE
    assert await local.get("other", "r1") is None
    assert await local.delete("w", "r1") is True
    assert await local.get("w", "r1") is None
    assert await local.delete("w", "r1") is False


async def test_another_worker_reads_the_sealed_turn(world: World) -> None:
    w = await ws(world)
    first, second = world.worker(), world.worker()
    first.save(w, "r1", STATE)
    assert await second.get(w, "r1") is None  # not yet stored, and not waited for
    assert await first.flush() == 1
    record = await world.store.responses.get_response(w, "r1")
    assert record is not None and b"output" not in record.ciphertext  # sealed at rest
    assert await second.get(w, "r1") == STATE


async def test_a_fresh_turn_is_waited_for(world: World) -> None:
    w = await ws(world)
    first, second = world.worker(), world.worker()
    first.save(w, "r1", STATE)
    world.on_sleep.append(first)  # the first worker stores it while the second waits
    assert await second.get(w, "r1", wait=True) == STATE
    assert world.slept == [0.25]


async def test_a_missing_turn_is_waited_for_at_most_fresh_wait(world: World) -> None:
    w = await ws(world)
    assert await world.worker().get(w, "nope", wait=True) is None
    assert world.slept == [0.25] * 4


async def test_a_moved_row_never_decrypts(world: World) -> None:
    w = await ws(world)
    first = world.worker()
    first.save(w, "r1", STATE)
    await first.flush()
    record = await world.store.responses.get_response(w, "r1")
    assert record is not None
    await world.store.responses.put_responses([dataclasses.replace(record, response_id="r2")])
    assert await world.worker().get(w, "r2") is None


async def test_retention(world: World) -> None:
    w = await ws(world)
    first = world.worker()
    first.save(w, "r1", STATE)
    await first.flush()
    world.now = T0 + timedelta(days=31)
    assert await first.get(w, "r1") is None  # expired in the LRU
    assert await world.worker().get(w, "r1") is None  # and in storage
    assert await first.prune() == 1


async def test_delete_reaches_queue_and_storage(world: World) -> None:
    w = await ws(world)
    first = world.worker()
    first.save(w, "queued", STATE)
    assert await world.worker().delete(w, "queued") is False  # another worker never saw it
    assert await first.delete(w, "queued") is True
    assert await first.flush() == 0
    first.save(w, "stored", STATE)
    await first.flush()
    assert await world.worker().delete(w, "stored") is True
    assert await world.store.responses.get_response(w, "stored") is None


async def test_a_deleted_workspace_stores_nothing(world: World) -> None:
    w = await ws(world)
    first = world.worker()
    first.save(w, "r1", STATE)
    await world.plane.delete_workspace("w")
    assert await first.flush() == 0
