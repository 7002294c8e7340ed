"""A fake Gemini Developer API speaking the real wire format over HTTP.

Run it with ``tests.fakes.server.serve(create_fake_gemini())`` and point a ``Target.base_url`` at
the yielded URL.

Routes (everything else is a Gemini-shaped 404):

- ``POST /v1beta/models/{model}:generateContent``
- ``POST /v1beta/models/{model}:streamGenerateContent`` (SSE with ``?alt=sse``; without it, a
  JSON array of the same chunks, as Gemini does)
- ``POST /v1beta/models/{model}:batchEmbedContents`` (each ``requests[].model`` must be
  ``models/{model}``, else 400 as upstream)

Auth follows Gemini: the key must be in the ``x-goog-api-key`` header (a ``?key=`` query is
ignored, so a client putting the key in the URL fails). A missing key is a 403
``PERMISSION_DENIED``; a wrong key is a 400 ``INVALID_ARGUMENT`` with reason
``API_KEY_INVALID``. A body that is not JSON is a 400 ``INVALID_ARGUMENT``.

Scripting: the fake keeps a FIFO queue of ``Reply`` s. A test pushes the replies it wants
(``fake.push(Reply.json(...), Reply.sse(...))``); each authorised, well-formed request pops the
next one, whatever its route. With the queue empty the fake answers a 500 ``INTERNAL`` error
that says so. Replies are built from Python values or straight from transcript files
(``Reply.transcript(path)``: ``*.response.json`` -> 200 JSON, ``*.stream.sse`` -> SSE, one
write per event, ``*.error.json`` -> the status in its ``error.code``). ``Reply.sse(...,
delay=0.02)`` spaces the events out in time; ``abort=True`` drops the connection after the
last chunk, without ending the chunked body, the way a cut network does.

Caching mode: with ``fake.contexts = ContextCacheSim()`` (``tests.fakes.fake_gemini_cache``) the
fake also serves ``POST /v1beta/cachedContents`` and answers ``generateContent`` and
``streamGenerateContent`` itself (explicit context caches created, used and expired as Gemini
does); the reply queue is then not used.

Every request that reaches the fake, authorised or not, is appended to ``fake.received`` as a
``ReceivedRequest`` (method, path, query, lower-cased headers, parsed JSON) for assertions.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.fake_gemini_cache import CacheError, ContextCacheSim

DEFAULT_API_KEY = "fake-gemini-key"
_ACTIONS = frozenset({"generateContent", "streamGenerateContent", "batchEmbedContents"})
_JSON = "application/json; charset=UTF-8"
_NOT_JSON = object()  # marks a request body that did not parse as JSON


class _Abort(Exception):
    """Raised inside a streamed body to cut the connection mid-response."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One scripted answer: a whole body, or ``chunks`` streamed as SSE."""

    status: int = 200
    body: bytes = b""
    chunks: tuple[bytes, ...] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    abort: bool = False
    delay: float = 0.0

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON body (``value`` may already be bytes)."""
        body = value if isinstance(value, bytes) else json.dumps(value, indent=2).encode()
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def error(cls, code: int, status: str, message: str, details: Sequence[Any] = ()) -> Reply:
        """A Gemini (google.rpc.Status) error body with HTTP status ``code``."""
        error: dict[str, Any] = {"code": code, "message": message, "status": status}
        if details:
            error["details"] = list(details)
        return cls.json({"error": error}, status=code)

    @classmethod
    def sse(
        cls, chunks: Sequence[Any] | bytes, *, abort: bool = False, delay: float = 0.0
    ) -> Reply:
        """An SSE stream: raw bytes (split into events) or values sent one event each.

        ``delay`` seconds pass between events; ``abort`` cuts the connection after the last.
        """
        if isinstance(chunks, bytes):
            events = _split_events(chunks)
        else:
            events = tuple(
                b"data: " + json.dumps(c, separators=(",", ": ")).encode() + b"\r\n\r\n"
                for c in chunks
            )
        return cls(chunks=events, abort=abort, delay=delay)

    @classmethod
    def transcript(cls, path: Path, *, abort: bool = False, delay: float = 0.0) -> Reply:
        """A reply straight from a transcript file, by its suffix."""
        raw = path.read_bytes()
        if path.name.endswith(".stream.sse"):
            return cls.sse(raw, abort=abort, delay=delay)
        if path.name.endswith(".error.json"):
            return cls.json(raw, status=int(json.loads(raw)["error"]["code"]))
        return cls.json(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    json: Any


class FakeGemini(Starlette):
    """The fake's ASGI app, with its reply queue and its record of requests."""

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        super().__init__(
            routes=[
                Route("/v1beta/models/{target:path}", self._handle, methods=["POST"]),
                Route("/v1beta/cachedContents", self._handle, methods=["POST"]),
            ]
        )
        self.api_key = api_key
        self.contexts: ContextCacheSim | None = None
        self.replies: deque[Reply] = deque()
        self.received: list[ReceivedRequest] = []

    def push(self, *replies: Reply) -> None:
        """Queue replies, served in order."""
        self.replies.extend(replies)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = _NOT_JSON
        self.received.append(
            ReceivedRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                json=None if payload is _NOT_JSON else payload,
            )
        )
        refusal = self._refusal(request, payload)
        if refusal is not None:
            return _send(refusal)
        if self.contexts is not None:
            return _send(self._cached(request, payload, self.contexts))
        reply = self.replies.popleft() if self.replies else _empty_queue()
        action = request.path_params["target"].rpartition(":")[2]
        if action == "streamGenerateContent" and request.query_params.get("alt") != "sse":
            return _send(_as_json_array(reply))
        return _send(reply)

    @staticmethod
    def _cached(request: Request, payload: Any, sim: ContextCacheSim) -> Reply:
        """The caching mode's answer (see the module docstring)."""
        try:
            if "target" not in request.path_params:
                return Reply.json(sim.create(payload))
            model, _, action = request.path_params["target"].rpartition(":")
            answer = sim.answer(model, payload)
        except CacheError as refused:
            return Reply.error(refused.code, refused.status, refused.message)
        if action == "streamGenerateContent":
            return Reply.sse([answer])
        return Reply.json(answer)

    def _refusal(self, request: Request, payload: Any) -> Reply | None:
        key = request.headers.get("x-goog-api-key")
        if not key:
            return Reply.error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if key != self.api_key:
            return Reply.error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )
        target = request.path_params.get("target")
        if target is None:  # POST /v1beta/cachedContents
            if self.contexts is None:
                return Reply.error(404, "NOT_FOUND", "Method not found: cachedContents.")
            if not isinstance(payload, dict):
                return Reply.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            return None
        model, _, action = target.rpartition(":")
        if not model or action not in _ACTIONS:
            return Reply.error(404, "NOT_FOUND", f"Method not found: {action or '(none)'}.")
        if payload is _NOT_JSON or not isinstance(payload, dict):
            return Reply.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if action == "batchEmbedContents":
            for i, one in enumerate(payload.get("requests") or []):
                if one.get("model") != f"models/{model}":
                    return Reply.error(
                        400,
                        "INVALID_ARGUMENT",
                        f"* BatchEmbedContentsRequest.requests[{i}].model: model must match "
                        f"the parent model.",
                    )
        return None


def create_fake_gemini(api_key: str = DEFAULT_API_KEY) -> FakeGemini:
    """A fresh fake with an empty reply queue, accepting ``api_key``."""
    return FakeGemini(api_key)


def _empty_queue() -> Reply:
    return Reply.error(500, "INTERNAL", "fake gemini: no scripted reply left in the queue.")


def _split_events(raw: bytes) -> tuple[bytes, ...]:
    separator = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    pieces = raw.split(separator)
    events = [p + separator for p in pieces[:-1]]
    if pieces[-1]:
        events.append(pieces[-1])
    return tuple(events)


def _as_json_array(reply: Reply) -> Reply:
    if reply.chunks is None:
        return reply
    values = []
    for chunk in reply.chunks:
        text = chunk.decode().strip()
        if text.startswith("data:"):
            values.append(json.loads(text[len("data:") :]))
    return Reply.json(values)


def _send(reply: Reply) -> Response:
    if reply.chunks is None:
        return Response(
            reply.body, status_code=reply.status, headers=dict(reply.headers), media_type=_JSON
        )
    return StreamingResponse(
        _stream(reply.chunks, reply.abort, reply.delay),
        status_code=reply.status,
        headers=dict(reply.headers),
        media_type="text/event-stream",
    )


async def _stream(chunks: Sequence[bytes], abort: bool, delay: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        # Each event leaves as its own write; a delay lets clients see separate reads.
        await asyncio.sleep(delay)
    if abort:
        raise _Abort("fake gemini: connection cut on purpose")
