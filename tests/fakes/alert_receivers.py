"""Real receivers for alert notifications: a webhook endpoint and an SMTP server.

``WebhookReceiver`` is a Starlette app (run it with ``tests.fakes.server.serve``) that records
every POST (headers and body) and can answer a chosen failure status. ``smtp_server`` runs
aiosmtpd's SMTP protocol on an ephemeral loopback port, in its own thread and event loop, with
STARTTLS (a self-signed certificate made here) and AUTH LOGIN/PLAIN required; it records each
message with the credentials it authenticated with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


T = TypeVar("T")


def _wait(condition: threading.Condition, found: Callable[[], T], timeout: float) -> T:
    """``found()`` once it is truthy, woken by each arrival (no polling); ``AssertionError``
    after ``timeout`` seconds."""
    with condition:
        result = condition.wait_for(found, timeout)
    if not result:
        raise AssertionError(f"nothing arrived that the test waits for within {timeout} s")
    return result


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.status = 200
        self.lock = threading.Condition()  # notified at every arrival
        self.app = _app(self)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [d.body for d in self.received]

    def wait_for(self, found: Callable[[], T], timeout: float = 60.0) -> T:
        """``found()`` (which may read ``bodies()``) once an arrival makes it truthy."""
        return _wait(self.lock, found, timeout)


def _app(receiver: WebhookReceiver) -> Any:
    from starlette.applications import Starlette

    async def hook(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.received.append(Delivery(dict(request.headers), body, time.monotonic()))
            receiver.lock.notify_all()
        return Response(b"ok" if receiver.status < 300 else b"receiver down", receiver.status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpInbox:
    port: int
    cert: Path
    messages: list[Message] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each message
    logins: list[str] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)  # at each arrival

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, found: Callable[[], T], timeout: float = 60.0) -> T:
        """``found()`` (which may read ``received()``) once an arrival makes it truthy."""
        return _wait(self.lock, found, timeout)


class _Handler:
    def __init__(self, inbox: SmtpInbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content)
        with self.inbox.lock:
            self.inbox.messages.append(message)
            self.inbox.arrivals.append(time.monotonic())
            self.inbox.lock.notify_all()
        return "250 OK"


@contextmanager
def smtp_server(directory: Path, username: str, password: str) -> Iterator[SmtpInbox]:
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    inbox = SmtpInbox(port=0, cert=cert)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            username.encode(),
            password.encode(),
        )
        if ok:
            with inbox.lock:
                inbox.logins.append(username)
        return AuthResult(success=ok)

    def protocol() -> SMTP:
        return SMTP(
            _Handler(inbox),
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            authenticator=authenticate,
            loop=loop,
        )

    thread = threading.Thread(target=loop.run_forever, name="smtp-server", daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(loop.create_server(protocol, "127.0.0.1", 0), loop)
    server = listening.result(timeout=10)
    inbox.port = server.sockets[0].getsockname()[1]
    try:
        yield inbox
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
