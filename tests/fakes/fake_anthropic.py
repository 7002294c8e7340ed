"""A fake Anthropic Messages API: a Starlette app that speaks the exact wire format over HTTP.

Usage::

    fake = create_fake_anthropic(api_key="sk-ant-test")
    fake.push(Reply.transcript("simple"))          # any case in tests/transcripts/anthropic/
    with serve(fake.app) as base_url:
        ...                                        # POST {base_url}/v1/messages
    fake.received[0].json                          # what the client sent

Scripting is a FIFO queue: each ``POST /v1/messages`` pops the next ``Reply`` and serves it as it
is: a JSON body, an error with its status and headers (``retry-after``...), or an SSE body sent one
event per chunk. A ``.stream.sse`` transcript that lacks ``message_stop`` makes a truncated stream:
the body simply ends there. With the queue empty the fake answers 500 ``api_error``.

Before popping a reply, every request is checked like the real API does: ``x-api-key`` must equal
``api_key`` (else 401 ``authentication_error``; ``Authorization: Bearer`` is accepted too, as the
API does and as SDK 2.x sends it), ``anthropic-version`` must be present and the body
must validate against the official SDK's ``MessageCreateParams`` (else 400
``invalid_request_error``). ``POST /v1/messages/count_tokens`` needs no script: it answers
``{"input_tokens": N}`` where N is the number of whitespace-separated words in the prompt.
Every request, accepted or not, is appended to ``received``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
from anthropic.types import MessageCountTokensParams
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.fake_anthropic_cache import CacheRuleError, PromptCacheSim

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "anthropic"


def transcript_path(case: str, kind: str) -> Path:
    """``tests/transcripts/anthropic/<case>.<kind>`` (kind: ``request.json``, ``stream.sse``...)."""
    return TRANSCRIPTS / f"{case}.{kind}"


def transcript_json(case: str, kind: str) -> Any:
    """A JSON transcript, parsed."""
    return json.loads(transcript_path(case, kind).read_text())


def transcript_bytes(case: str, kind: str) -> bytes:
    """A transcript's raw bytes."""
    return transcript_path(case, kind).read_bytes()


def cases(kind: str) -> list[str]:
    """Every case that has a ``<case>.<kind>`` file, sorted."""
    return sorted(p.name[: -len(kind) - 1] for p in TRANSCRIPTS.glob(f"*.{kind}"))


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False

    @classmethod
    def transcript(cls, case: str) -> Reply:
        """The answer recorded for ``case`` (its ``.stream.sse``, ``.response.json`` or error)."""
        if transcript_path(case, "stream.sse").exists():
            return cls(body=transcript_bytes(case, "stream.sse"), stream=True)
        if transcript_path(case, "response.json").exists():
            return cls(body=transcript_bytes(case, "response.json"))
        spec = transcript_json(case, "error.json")
        text = spec["body_text"] if "body_text" in spec else json.dumps(spec["body"])
        return cls(status=spec["status"], body=text.encode(), headers=spec["headers"])


@dataclass(frozen=True)
class Received:
    """One request the fake got."""

    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class FakeAnthropic:
    """The fake's state and its ASGI ``app``."""

    api_key: str
    app: Starlette = field(init=False)
    received: list[Received] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    cache: PromptCacheSim | None = None
    """Caching mode: with no scripted reply left, answer by itself with the cache reads and
    writes the real API would report (``tests/fakes/fake_anthropic_cache.py``)."""

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
            ]
        )

    def push(self, *replies: Reply) -> None:
        """Queue answers for the next ``POST /v1/messages`` calls, in order."""
        self.replies.extend(replies)

    async def _messages(self, request: Request) -> Response:
        body, rejected = await self._receive(request)
        if rejected is not None:
            return rejected
        problem = validate_messages_body(body)
        if problem is not None:
            return error_response(400, "invalid_request_error", problem)
        if not self.replies and self.cache is not None:
            return self._cached_answer(body)
        if not self.replies:
            return error_response(500, "api_error", "fake: no scripted reply left")
        reply = self.replies.popleft()
        headers = {"request-id": "req_fake", **reply.headers}
        if not reply.stream:
            media = headers.pop("content-type", "application/json")
            return Response(reply.body, reply.status, headers=headers, media_type=media)
        return StreamingResponse(
            _chunks(reply.body), reply.status, headers=headers, media_type="text/event-stream"
        )

    def _cached_answer(self, body: dict[str, Any]) -> Response:
        assert self.cache is not None
        try:
            outcome = self.cache.account(body)
        except CacheRuleError as exc:
            return error_response(400, "invalid_request_error", str(exc))
        text = f"answer {len(self.cache.outcomes)}"
        usage = self.cache.usage(outcome, output_tokens=3)
        message = {
            "id": f"msg_{len(self.cache.outcomes)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return Response(json.dumps(message), media_type="application/json")
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        sse = b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)
        return StreamingResponse(_chunks(sse), media_type="text/event-stream")

    async def _count_tokens(self, request: Request) -> Response:
        body, rejected = await self._receive(request)
        if rejected is not None:
            return rejected
        problem = validate(count_tokens_adapter(), body)
        if problem is not None:
            return error_response(400, "invalid_request_error", problem)
        count = sum(len(text.split()) for text in _texts(body.get("system")))
        count += sum(len(text.split()) for text in _texts(body["messages"]))
        return Response(json.dumps({"input_tokens": count}), media_type="application/json")

    async def _receive(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.received.append(Received(request.url.path, dict(request.headers), body))
        if presented_key(request) != self.api_key:
            return body, error_response(401, "authentication_error", "invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return body, error_response(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        if not isinstance(body, dict):
            return body, error_response(400, "invalid_request_error", "body must be JSON object")
        return body, None


def presented_key(request: Request) -> str | None:
    """The key from ``x-api-key``, else from ``Authorization: Bearer`` (the API takes both)."""
    key = request.headers.get("x-api-key")
    if key is not None:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def create_fake_anthropic(*, api_key: str = "sk-ant-test") -> FakeAnthropic:
    """A fresh fake with an empty script; serve ``.app`` with ``tests.fakes.server.serve``."""
    return FakeAnthropic(api_key=api_key)


def error_response(status: int, type_: str, message: str) -> Response:
    """An Anthropic error answer."""
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_x"}
    return Response(json.dumps(body), status, media_type="application/json")


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for event in body.split(b"\n\n"):
        if event.strip():
            yield event + b"\n\n"


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        texts = [v for k, v in value.items() if k in ("text", "thinking") and isinstance(v, str)]
        return texts + _texts(value.get("content"))
    return []


@cache
def messages_adapters() -> tuple[pydantic.TypeAdapter[Any], pydantic.TypeAdapter[Any]]:
    """SDK request types (non-streaming, streaming) as pydantic adapters (built once: ~1 s)."""
    return (
        pydantic.TypeAdapter(MessageCreateParamsNonStreaming),
        pydantic.TypeAdapter(MessageCreateParamsStreaming),
    )


@cache
def count_tokens_adapter() -> pydantic.TypeAdapter[Any]:
    """The SDK's count_tokens request type."""
    return pydantic.TypeAdapter(MessageCountTokensParams)


def validate_messages_body(body: Any) -> str | None:
    """None if ``body`` is a valid Messages request for the official SDK types, else why not."""
    non_streaming, streaming = messages_adapters()
    adapter = streaming if isinstance(body, dict) and body.get("stream") else non_streaming
    return validate(adapter, body)


def validate(adapter: pydantic.TypeAdapter[Any], body: Any) -> str | None:
    """Validate ``body`` fully (the SDK's ``Iterable`` fields are lazy, so they are drained)."""
    try:
        _drain(adapter.validate_python(body))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"
    return None


def _drain(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _drain(item)
    elif isinstance(value, (list, tuple)) or hasattr(value, "__next__"):
        for item in value:
            _drain(item)
