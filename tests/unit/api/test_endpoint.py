"""``keyroute.api.endpoint``: the frame, driven in-process (fake ASGI receive/send, a memory
store and a function transport in place of the network): one record per request whatever
happens, errors in the caller's format, work cancelled when the client leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from keyroute.api.anthropic_routes import Messages
from keyroute.api.openai_routes import ChatCompletions
from keyroute.config.schema import Config
from keyroute.core.record import RequestRecord
from keyroute.services import Services
from keyroute.storage.memory import MemoryStore
from keyroute.upstream.function import FunctionTransport, Reply
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio
BASE = "http://upstream.test/v1"
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}


class Sink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def submit(self, record: RequestRecord) -> None:
        self.records.append(record)


class Client:
    """One ASGI request: its body, then (optionally) a disconnect once ``leave`` is set."""

    def __init__(self, body: bytes, *, leave: asyncio.Event | None = None) -> None:
        self._messages = [{"type": "http.request", "body": body, "more_body": False}]
        self._leave = leave
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self._messages:
            return self._messages.pop(0)
        if self._leave is not None:
            await self._leave.wait()
        else:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def json(self) -> Any:
        return msgspec.json.decode(b"".join(m.get("body", b"") for m in self.sent[1:]))


def scope(path: str, key: str | None, **headers: str) -> dict[str, Any]:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    if key is not None:
        raw.append((b"authorization", f"Bearer {key}".encode()))
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": raw,
        "client": ("203.0.113.7", 5555),
    }


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Services, str, Sink, FunctionTransport]]:
    answers: list[Reply] = []
    asked = asyncio.Event()

    async def handler(request: Any) -> Reply:
        asked.set()
        if answers:
            return answers.pop(0)
        await asyncio.Event().wait()  # no scripted answer: hang until cancelled
        raise AssertionError("unreachable")

    transport = FunctionTransport(handler)
    transport.answers = answers  # type: ignore[attr-defined]
    transport.asked = asked  # type: ignore[attr-defined]
    keyring = MasterKeyring.from_env(new_master_key().hex())
    services = Services(Config(), MemoryStore(), keyring, mounts={"http://": transport})
    await services.start()
    await services.control.create_workspace("w")
    created = await services.control.create_api_key("w", "app")
    await services.control.add_provider_key("w", "openai", "sk-test-0123456789", base_url=BASE)
    sink = Sink()
    services.record_sinks.append(sink)
    try:
        yield services, created.key, sink, transport
    finally:
        await services.close()


def chat(**extra: Any) -> bytes:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    return msgspec.json.encode({**body, **extra})


async def test_a_served_request_is_recorded_once(gateway: Any) -> None:
    services, key, sink, transport = gateway
    transport.answers.append(Reply(body=msgspec.json.encode(COMPLETION)))
    client = Client(chat(user="alice"))
    await ChatCompletions(services)(
        scope("/v1/chat/completions", key, **{"user-agent": "t/1"}), client.receive, client.send
    )
    assert client.status == 200 and client.json["choices"][0]["message"]["content"] == "hi"
    [record] = sink.records
    assert (record.status, record.workspace_id is not None, record.end_user) == (200, True, "alice")
    assert (record.client_ip, record.user_agent, record.inbound_format) == (
        "203.0.113.7",
        "t/1",
        "openai",
    )
    assert record.usage is not None and record.usage.input_tokens == 9
    assert record.cost is not None and record.cost.known
    headers = dict(client.sent[0]["headers"])
    assert headers[b"x-request-id"].decode() == record.request_id


async def test_a_refused_key_is_recorded_without_a_workspace(gateway: Any) -> None:
    services, _, sink, transport = gateway
    client = Client(chat())
    await ChatCompletions(services)(
        scope("/v1/chat/completions", "kr-wrong"), client.receive, client.send
    )
    assert client.status == 401 and client.json["error"]["code"] == "invalid_api_key"
    [record] = sink.records
    assert (record.status, record.error_code, record.workspace_id) == (401, "invalid_api_key", None)
    assert transport.requests == []


async def test_an_upstream_error_is_mirrored_and_recorded(gateway: Any) -> None:
    services, key, sink, transport = gateway
    error = {"error": {"message": "bad temperature", "type": "invalid_request_error", "code": None}}
    transport.answers.append(Reply(status=400, body=msgspec.json.encode(error)))
    client = Client(chat())
    await ChatCompletions(services)(scope("/v1/chat/completions", key), client.receive, client.send)
    assert client.status == 400
    assert dict(client.sent[0]["headers"])[b"x-keyroute-attempts"] == b"1"
    [record] = sink.records
    assert record.status == 400 and [a.status for a in record.attempts] == [400]
    assert record.attempts[0].error_class == "fatal"
    assert record.cost is not None and record.cost.paid_pico == 0


async def test_a_client_that_leaves_cancels_the_upstream_and_is_recorded(gateway: Any) -> None:
    services, key, sink, transport = gateway
    leave = asyncio.Event()
    client = Client(chat(), leave=leave)
    call = asyncio.ensure_future(
        ChatCompletions(services)(scope("/v1/chat/completions", key), client.receive, client.send)
    )
    await transport.asked.wait()
    leave.set()
    await asyncio.wait_for(call, 5)
    assert client.sent == []  # nobody to answer
    [record] = sink.records
    assert (record.status, record.error_code) == (499, "client_disconnected")
    assert [a.status for a in record.attempts] == [0]


async def test_an_anthropic_client_gets_anthropic_errors(gateway: Any) -> None:
    services, key, sink, _ = gateway
    client = Client(b"{not json")
    await Messages(services)(scope("/v1/messages", key), client.receive, client.send)
    assert client.status == 400 and client.json["type"] == "error"
    assert sink.records[0].inbound_format == "anthropic"
