"""A client that stops reading a stream, on a raw socket against ``keyroute serve``: once a chunk
waits longer than ``server.stream_write_timeout_seconds`` (1 s here), the relay ends, the
upstream stream is closed and so is the client's connection. The test waits for those outcomes
(polling under a guard), never asserts on a duration."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from keyroute.control.plane import ControlPlane
from tests.fakes.fake_openai import UPSTREAM_KEY
from tests.fakes.hostile_upstream import HostileUpstream
from tests.integration.hostile.conftest import ServedGateway, build_request, served_gateway

pytestmark = pytest.mark.integration
GUARD = 60.0  # seconds before the test gives up: a hang, not a slow answer


@pytest.fixture(scope="module")
def flood() -> Iterator[HostileUpstream]:
    upstream = HostileUpstream()
    with upstream.running() as url:
        upstream.url = url  # type: ignore[attr-defined]
        yield upstream


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, flood: HostileUpstream
) -> Iterator[ServedGateway]:
    settings = {"KEYROUTE__SERVER__STREAM_WRITE_TIMEOUT_SECONDS": "1"}
    with served_gateway(tmp_path_factory.mktemp("stall") / "data", **settings) as gw:
        base_url = f"{flood.url}/flood/v1"  # type: ignore[attr-defined]

        async def work(control: ControlPlane) -> None:
            await control.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=base_url)

        gw.control(work)
        yield gw


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_a_client_that_stops_reading_a_stream_is_cut_off_and_the_upstream_closed(
    gateway: ServedGateway, flood: HostileUpstream
) -> None:
    body = (
        b'{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer " + gateway.api_key.encode()),
    ]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(GUARD)
    sock.connect(("127.0.0.1", gateway.port))
    with sock:
        sock.sendall(build_request("POST", "/v1/chat/completions", headers, body))
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        # The client stops reading: the gateway's buffers fill and a chunk waits.
        wait_for(lambda: flood.requests and flood.open_connections == 0, "the upstream to close")
        received, tail = 0, b""
        while chunk := sock.recv(1 << 20):  # drain what was buffered: then the server's EOF
            received += len(chunk)
            tail = chunk[-16:]
        assert received > 0, first
        assert not tail.endswith(b"0\r\n\r\n"), (received, first[-1500:], tail)
    assert flood.requests == [("flood", "openai", True)]
    log = gateway.log_path.read_text(errors="replace")
    assert "Traceback" not in log


def test_the_gateway_still_serves_streams_after_it(gateway: ServedGateway) -> None:
    models = build_request(
        "GET", "/v1/models", [(b"authorization", b"Bearer " + gateway.api_key.encode())]
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=GUARD) as sock:
        sock.sendall(models)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
