"""Integration fixtures: a real gateway on an ephemeral port, over a fresh SQLite data dir.

``gateway`` runs ``keyroute init`` logic, then serves ``create_app`` under uvicorn in a thread,
on the production stack (uvloop, httptools and the options of ``keyroute serve``).
``Gateway.cli`` runs the real ``keyroute`` command in a subprocess against the same data dir,
as an operator would while the server runs; ``Gateway.control`` does the same in-process.
Both return once the running server's change feed has seen what they committed (``settle``):
the feed polls the file in the background, so a test never races the poll.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from keyroute.api.app import create_app
from keyroute.api.connection import uvicorn_options
from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.config.schema import Config
from keyroute.control.plane import ControlPlane
from keyroute.services import Services
from keyroute.storage.sqlite import sqlite_path
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.server import serve

T = TypeVar("T")


@dataclass
class Gateway:
    url: str
    api_key: str
    admin_token: str
    config: Config
    env: dict[str, str]
    data_dir: Path
    services: Services

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the running server has seen every configuration change committed so far.

        Reads the file's change sequence, then waits for the server's feed to reach it; the feed
        itself is untouched (it must find the change through its own poll)."""
        with closing(sqlite3.connect(sqlite_path(self.config.resolved_database_url))) as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'config_revision'").fetchone()
        target = int(row[0]) if row else 0
        deadline = time.monotonic() + timeout
        while self.services.store.changes.latest() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never saw configuration change {target}")
            time.sleep(0.01)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> Any:
        env = {**os.environ, **self.env}
        proc = subprocess.run(
            [sys.executable, "-m", "keyroute", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"keyroute {' '.join(args)} failed: {proc.stderr}")
        self.settle()
        return proc

    def cli_json(self, *args: str, stdin: str | None = None) -> Any:
        return msgspec.json.decode(self.cli(*args, "--json", stdin=stdin).stdout)

    def control(self, work: Callable[[ControlPlane], Awaitable[T]]) -> T:
        async def main() -> T:
            services = await Services.open(self.config)
            try:
                return await work(services.control)
            finally:
                await services.close()

        result = asyncio.run(main())
        self.settle()
        return result


@contextmanager
def running_gateway(tmp_path: Path, **extra_env: str) -> Iterator[Gateway]:
    """A gateway over a fresh data dir; ``extra_env`` adds ``KEYROUTE__...`` settings."""
    env = {
        "KEYROUTE_DATA_DIR": str(tmp_path / "data"),
        "KEYROUTE__SERVER__CHANGE_POLL_SECONDS": "0.1",
        **extra_env,
    }
    config = load(env=env)
    result = asyncio.run(initialise(config))
    services = Services.build(config)
    app = create_app(services)
    with serve(app, uvicorn_options(config.server)) as url:
        yield Gateway(
            url=url,
            api_key=result.details.get("api_key", ""),
            admin_token=result.details.get("admin_token", ""),
            config=config,
            env=env,
            data_dir=tmp_path / "data",
            services=services,
        )


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as gw:
        yield gw


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve(fake.app) as url:
        yield fake, url + "/v1"
