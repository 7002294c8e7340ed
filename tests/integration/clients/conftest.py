"""Fixtures of the real-client suite: the matrix world (gateway, four fake upstreams) with a
recorder in front of the gateway, and the Node clients installed by ``make test-clients``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clients.recorder import Recorder
from tests.integration.matrix_cases import World, open_world

NODE_DIR = Path(__file__).resolve().parents[2] / "clients"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"


# pydantic-ai's run_sync and the Agents SDK leave their httpx clients and async generators to the
# garbage collector after their event loop ends; Python reports them as unraisable
# ResourceWarnings, in whichever test the collector happens to run. They are the frameworks'.
_THIRD_PARTY_LEAKS = (
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            for mark in _THIRD_PARTY_LEAKS:
                item.add_marker(mark)


@pytest.fixture
def collect_leaks() -> Iterator[None]:
    """Collect a test's leaked framework objects while its warning filters still apply."""
    yield
    gc.collect()


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
