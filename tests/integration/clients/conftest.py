"""Fixtures of the real-client suite: the matrix world (gateway, four fake upstreams) with a
recorder in front of the gateway, and the Node clients installed by ``make test-clients``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clients.recorder import Recorder
from tests.integration.matrix_cases import World, open_world

NODE_DIR = Path(__file__).resolve().parents[2] / "clients"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"


@pytest.fixture(scope="package")
def recorder_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Recorder]]:
    recorders: list[Recorder] = []

    def wrap(app: object) -> Recorder:
        recorders.append(Recorder(app))
        return recorders[-1]

    with open_world(tmp_path_factory.mktemp("clients") / "data", wrap=wrap) as world:
        yield world, recorders[0]


@pytest.fixture
def w(recorder_world: tuple[World, Recorder]) -> World:
    world, recorder = recorder_world
    world.reset()
    recorder.sent.clear()
    return world


@pytest.fixture
def recorder(recorder_world: tuple[World, Recorder], w: World) -> Recorder:
    return recorder_world[1]


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """The directory of the installed Node clients (``npm ci`` in tests/clients)."""
    if not (NODE_BIN / "claude").exists():
        pytest.fail("The Node clients are not installed: run `make test-clients`.")
    return NODE_DIR
