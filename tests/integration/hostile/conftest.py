"""Hostile-client fixtures: the real ``keyroute serve`` process on the production stack (uvicorn,
httptools, uvloop, ``GuardedConnection``), a raw-socket HTTP client that can send what no HTTP
library will, and fake upstreams that count every request they get.

The gateway runs as its own process so that its memory can be measured (``/proc/PID/status``)
and so that what is tested is exactly what ``keyroute serve`` runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.config.schema import Config
from keyroute.control.plane import ControlPlane
from keyroute.services import Services
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_gemini import DEFAULT_API_KEY as GEMINI_KEY
from tests.fakes.fake_gemini import FakeGemini
from tests.fakes.fake_openai import UPSTREAM_KEY as OPENAI_KEY
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.server import serve

T = TypeVar("T")
ANTHROPIC_KEY = "sk-ant-fake-hostile-0123456789"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def build_request(
    method: str, path: bytes | str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    """An HTTP/1.1 request as bytes; ``content-length`` is added for a body unless given."""
    target = path.encode() if isinstance(path, str) else path
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"host: 127.0.0.1"]
    names = {name.lower() for name, _ in headers}
    lines += [name + b": " + value for name, value in headers]
    if body and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"content-length: " + str(len(body)).encode())
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def read_answer(sock: socket.socket) -> Answer:
    """Read one whole answer (content-length, chunked or until EOF) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed without an answer (got {data[:200]!r})")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = rest[:size]
    else:
        while chunk := sock.recv(65536):
            rest += chunk
        body = _dechunk(rest) if headers.get("transfer-encoding") == "chunked" else rest
    return Answer(int(status_line.split()[1]), headers, body, head)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def exchange(port: int, raw: bytes, timeout: float = 20.0) -> Answer:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_answer(sock)


@dataclass
class ServedGateway:
    port: int
    pid: int
    api_key: str
    admin_token: str
    config: Config
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, work: Callable[[ControlPlane], Awaitable[T]]) -> T:
        async def main() -> T:
            services = await Services.open(self.config)
            try:
                return await work(services.control)
            finally:
                await services.close()

        return asyncio.run(main())

    def memory_kib(self, field_name: str) -> int:
        """``VmRSS`` or ``VmHWM`` (peak) of the gateway process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} for pid {self.pid}")

    def reset_peak_memory(self) -> None:
        """Reset ``VmHWM`` to the current RSS (Linux ``clear_refs`` 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keyroute serve exited: {log.read_text(errors='replace')}")
        try:
            if exchange(port, build_request("GET", "/health", []), timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)  # polling for the child to listen; no clock is asserted on
    raise RuntimeError("keyroute serve did not start listening")


@contextmanager
def served_gateway(data_dir: Path, **settings: str) -> Iterator[ServedGateway]:
    """``keyroute serve`` in a child process over a fresh data dir; ``settings`` are
    ``KEYROUTE__...`` environment variables."""
    env = {"KEYROUTE_DATA_DIR": str(data_dir), **settings}
    config = load(env=env)
    result = asyncio.run(initialise(config))
    port = free_port()
    log_path = data_dir.parent / "gateway.log"
    log = log_path.open("wb")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyroute", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        _wait_until_serving(port, proc, log_path)
        yield ServedGateway(
            port=port,
            pid=proc.pid,
            api_key=result.details["api_key"],
            admin_token=result.details["admin_token"],
            config=config,
            data_dir=data_dir,
            log_path=log_path,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Counting:
    """An ASGI wrapper that records the path of every HTTP request the wrapped fake gets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Upstreams:
    """The fake providers a hostile gateway's workspace points at."""

    openai: Counting
    anthropic: Counting
    gemini: Counting
    urls: dict[str, str] = field(default_factory=dict)

    def calls(self) -> int:
        return sum(len(c.paths) for c in (self.openai, self.anthropic, self.gemini))


@contextmanager
def fake_upstreams() -> Iterator[Upstreams]:
    ups = Upstreams(
        openai=Counting(FakeOpenAI().app),
        anthropic=Counting(FakeAnthropic(api_key=ANTHROPIC_KEY).app),
        gemini=Counting(FakeGemini()),
    )
    with ExitStack() as stack:
        ups.urls = {
            "openai": stack.enter_context(serve(ups.openai)) + "/v1",
            "anthropic": stack.enter_context(serve(ups.anthropic)),
            "gemini": stack.enter_context(serve(ups.gemini)),
        }
        yield ups


def connect_providers(gw: ServedGateway, ups: Upstreams) -> None:
    """Give the gateway's ``default`` workspace a key for each fake (and a named OpenAI-compatible
    host, ``local``, which is asked for its model list)."""

    async def work(control: ControlPlane) -> None:
        await control.add_provider_key("default", "openai", OPENAI_KEY, base_url=ups.urls["openai"])
        await control.add_provider_key(
            "default", "anthropic", ANTHROPIC_KEY, base_url=ups.urls["anthropic"]
        )
        await control.add_provider_key("default", "gemini", GEMINI_KEY, base_url=ups.urls["gemini"])
        await control.add_provider_key(
            "default", "openai-compatible", OPENAI_KEY, name="local", base_url=ups.urls["openai"]
        )
        await control.set_alias("default", "fast", "openai/gpt-4o-mini")

    gw.control(work)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with fake_upstreams() as ups:
        yield ups


@pytest.fixture(scope="module")
def hostile_gateway(
    tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams
) -> Iterator[ServedGateway]:
    """The production gateway with default limits, connected to the counting fakes."""
    with served_gateway(tmp_path_factory.mktemp("hostile") / "data") as gw:
        connect_providers(gw, upstreams)
        yield gw
