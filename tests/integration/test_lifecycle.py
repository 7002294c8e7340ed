"""The request lifecycle end to end: a client that leaves cancels its upstream request, a model
listing does not wait on silent hosts, and SIGTERM ends open streams cleanly and exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, default_stream
from tests.fakes.process import serve_process
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration


class SilentHost:
    """Accepts connections and reads requests but never answers; notes when a peer hangs up."""

    def __init__(self) -> None:
        self.accepted = threading.Event()
        self.closed_by_peer = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            self.accepted.set()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            while conn.recv(65536):
                pass
            self.closed_by_peer.set()
        except OSError:
            pass

    def close(self) -> None:
        self._stop = True
        for conn in self._conns:
            conn.close()
        self.sock.close()


@contextmanager
def silent_host() -> Iterator[SilentHost]:
    host = SilentHost()
    try:
        yield host
    finally:
        host.close()


def auth(gw: Gateway) -> dict[str, str]:
    return {"authorization": f"Bearer {gw.api_key}"}


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_cancels_the_upstream_request(gateway: Gateway, stream: bool) -> None:
    with silent_host() as host:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai-compatible", "", name="slow", base_url=host.url + "/v1"
            )
        )
        body: dict[str, object] = {
            "model": "slow/m",
            "messages": [{"role": "user", "content": "x"}],
            "stream": stream,
        }
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                gateway.url + "/v1/chat/completions", json=body, headers=auth(gateway), timeout=1.0
            )
        assert host.accepted.is_set()
        # The upstream timeout is 600 s: only the client's departure can close this connection.
        assert host.closed_by_peer.wait(10), "the upstream request outlived its client"


def test_a_silent_host_does_not_hold_the_model_listing(gateway: Gateway) -> None:
    fake = FakeOpenAI()
    with silent_host() as one, silent_host() as two, serve(fake.app) as live:
        for name, url in (("one", one.url), ("two", two.url), ("live", live)):
            gateway.control(
                lambda c, name=name, url=url: c.add_provider_key(  # type: ignore[misc]
                    "default", "openai-compatible", UPSTREAM_KEY, name=name, base_url=url + "/v1"
                )
            )
        t0 = time.monotonic()
        first = httpx.get(gateway.url + "/v1/models", headers=auth(gateway), timeout=30)
        took = time.monotonic() - t0
        ids = {m["id"] for m in first.json()["data"]}
        assert first.status_code == 200 and "live/llama-3.3-70b" in ids
        # Two silent hosts asked together, each bounded by the short listing timeout (3 s):
        # far below the 2 x 10 s they once cost one after the other.
        assert took < 9.0
        again = httpx.get(gateway.url + "/v1/models", headers=auth(gateway), timeout=30)
        assert again.status_code == 200 and {m["id"] for m in again.json()["data"]} == ids


def test_sigterm_ends_an_open_stream_with_an_error_and_exits(
    gateway: Gateway, tmp_path: Path
) -> None:
    fake = FakeOpenAI()
    slow = default_stream(["tick"] * 200, include_usage=True)
    fake.push(Reply.stream(slow, delay=0.1))
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        env = {**os.environ, **gateway.env, "KEYROUTE__SERVER__SHUTDOWN_GRACE_SECONDS": "1"}
        with serve_process([sys.executable, "-m", "keyroute"], env) as server:
            body = {
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "stream": True,
            }
            lines: list[str] = []
            url = server.url + "/v1/chat/completions"
            with httpx.stream("POST", url, json=body, headers=auth(gateway), timeout=30) as resp:
                assert resp.status_code == 200
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        lines.append(line)
                        if len(lines) == 3:
                            os.killpg(server.proc.pid, signal.SIGTERM)
            # uvicorn re-raises the signal it handled once shut down: a clean SIGTERM exit.
            assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
    last = json.loads(lines[-1].removeprefix("data:").strip())
    assert last["error"]["code"] == "shutting_down"
    assert len(lines) < 150  # the stream was ended, not relayed to its end
