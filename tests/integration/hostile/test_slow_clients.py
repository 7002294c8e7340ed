"""Slow and abusive clients on raw sockets against ``keyroute serve`` (httptools, uvloop).

The gateway runs with one-second head and body allowances so the limits show quickly; the
tests wait for outcomes (an answer, a closed socket), never assert on durations. Socket
timeouts are only a guard against a hang.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.integration.hostile.conftest import (
    Answer,
    ServedGateway,
    build_request,
    exchange,
    read_answer,
    served_gateway,
)

pytestmark = pytest.mark.integration
GUARD = 30.0  # seconds before a test gives up on an answer: a hang, not a slow answer


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    settings = {
        "KEYROUTE__SERVER__HEADER_TIMEOUT_SECONDS": "1",
        "KEYROUTE__SERVER__BODY_TIMEOUT_SECONDS": "1",
        "KEYROUTE__SERVER__KEEP_ALIVE_SECONDS": "1",
    }
    with served_gateway(tmp_path_factory.mktemp("slow") / "data", **settings) as gw:
        yield gw


def connect(gw: ServedGateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gw.port), timeout=GUARD)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed (EOF or reset); reads and drops anything before."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def is_openai_error(answer: Answer, code: str) -> bool:
    error = answer.json()["error"]
    return error["code"] == code and isinstance(error["message"], str) and "type" in error


def test_idle_connections_are_closed(gateway: ServedGateway) -> None:
    socks = [connect(gateway) for _ in range(500)]  # the probe: 500 idle connections
    try:
        for sock in socks:
            assert sock.recv(1) == b""  # closed without a request: nothing to answer
    finally:
        for sock in socks:
            sock.close()


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(gateway: ServedGateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        assert read_answer(sock).status == 200
        assert closed_by_server(sock)


def trickle(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    """Send ``data`` a byte at a time until the server answers or closes."""
    for byte in data:
        if stop.wait(0.05):  # the client's own slowness, not a clock under test
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def slow_exchange(gw: ServedGateway, head: bytes, trickled: bytes) -> Answer:
    with connect(gw) as sock:
        sock.sendall(head)
        stop = threading.Event()
        sender = threading.Thread(target=trickle, args=(sock, trickled, stop))
        sender.start()
        try:
            answer = read_answer(sock)
        finally:
            stop.set()
            sender.join()
        assert closed_by_server(sock)
        return answer


def test_a_slowloris_head_is_answered_408_and_closed(gateway: ServedGateway) -> None:
    answer = slow_exchange(
        gateway, b"POST /v1/chat/completions HTTP/1.1\r\n", b"x-slow: " + b"a" * 10_000
    )
    assert answer.status == 408
    assert is_openai_error(answer, "request_timeout")
    assert answer.headers["connection"] == "close"


def test_a_slowloris_head_on_the_anthropic_endpoint_gets_anthropic_json(
    gateway: ServedGateway,
) -> None:
    answer = slow_exchange(gateway, b"POST /v1/messages HTTP/1.1\r\n", b"x-slow: " + b"a" * 10_000)
    assert answer.status == 408
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == "invalid_request_error"


def body_head(gw: ServedGateway, path: str, length: int, auth: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {length}\r\n".encode()
        + auth
        + b"\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("path", "anthropic"),
    [
        ("/v1/chat/completions", False),
        ("/v1/embeddings", False),
        ("/v1/messages", True),
        ("/v1/messages/count_tokens", True),
    ],
)
def test_a_one_byte_a_second_body_is_answered_408_in_the_callers_format(
    gateway: ServedGateway, path: str, anthropic: bool
) -> None:
    auth = b"authorization: Bearer " + gateway.api_key.encode()
    answer = slow_exchange(gateway, body_head(gateway, path, 5000, auth), b" " * 5000)
    assert answer.status == 408
    assert "x-request-id" in answer.headers
    if anthropic:
        assert answer.json()["type"] == "error"
        assert "did not arrive in time" in answer.json()["error"]["message"]
    else:
        assert is_openai_error(answer, "request_timeout")


def test_a_slow_admin_body_is_answered_408(gateway: ServedGateway) -> None:
    auth = b"authorization: Bearer " + gateway.admin_token.encode()
    answer = slow_exchange(
        gateway, body_head(gateway, "/admin/v1/workspaces", 5000, auth), b" " * 5000
    )
    assert answer.status == 408
    assert is_openai_error(answer, "request_timeout")


def test_a_client_that_keeps_sending_after_a_413_is_disconnected(gateway: ServedGateway) -> None:
    auth = b"authorization: Bearer " + gateway.api_key.encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
        + auth
        + b"\r\n\r\n"
    )
    with connect(gateway) as sock:
        sock.sendall(head)
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
        answer = None
        stop = threading.Event()

        def flood() -> None:
            while not stop.is_set():
                try:
                    sock.sendall(chunk)
                except OSError:
                    return

        sender = threading.Thread(target=flood)
        sender.start()
        try:
            answer = read_answer(sock)
            assert closed_by_server(sock)  # the flood does not keep the connection open
        finally:
            stop.set()
            sender.join()
    assert answer.status == 413
    assert is_openai_error(answer, "payload_too_large")


def send_big_head(gw: ServedGateway, size: int, results: list[Answer]) -> None:
    with connect(gw) as sock:
        try:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ")
            block = b"a" * 65536
            for _ in range(size // len(block)):
                sock.sendall(block)
        except OSError:
            pass  # the server stopped reading: its answer is waiting
        results.append(read_answer(sock))


def test_a_32_mb_header_is_a_431_without_being_buffered(gateway: ServedGateway) -> None:
    exchange(gateway.port, build_request("GET", "/health", []))  # warm
    before = gateway.memory_kib("VmRSS")
    gateway.reset_peak_memory()
    results: list[Answer] = []
    senders = [
        threading.Thread(target=send_big_head, args=(gateway, 32 << 20, results)) for _ in range(4)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert [a.status for a in results] == [431] * 4
    assert all(is_openai_error(a, "request_header_too_large") for a in results)
    peak = gateway.memory_kib("VmHWM")
    assert peak - before < 16 * 1024, f"four 32 MB heads raised the peak by {peak - before} KiB"


def test_a_head_just_under_the_limit_is_served(gateway: ServedGateway) -> None:
    raw = build_request(
        "GET",
        "/v1/models",
        [(b"authorization", b"Bearer " + gateway.api_key.encode()), (b"x-pad", b"a" * 60_000)],
    )
    assert exchange(gateway.port, raw).status == 200


def test_the_gateway_still_serves_after_the_abuse(gateway: ServedGateway) -> None:
    raw = build_request(
        "GET", "/v1/models", [(b"authorization", b"Bearer " + gateway.api_key.encode())]
    )
    assert exchange(gateway.port, raw).status == 200
