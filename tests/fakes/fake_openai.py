"""A fake OpenAI chat-completions upstream speaking the exact wire format over HTTP.

``FakeOpenAI().app`` is a Starlette app; run it with ``tests.fakes.server.serve``. It checks the
bearer key (401 OpenAI error JSON otherwise), records every request (``requests``: path, headers,
parsed JSON body) and answers from a queue of scripted replies (``push``); with an empty queue it
answers a default completion (or tool call, when a tool is forced), streaming or not, with usage.

Scripted replies: ``Reply.json(status, body, headers)`` for any status, ``Reply.stream(events,
delay=, cut=)`` for raw SSE events (``cut=True`` closes the connection without ``[DONE]``), and
``Reply.hang(seconds)`` to hold the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes import fake_openai_responses

UPSTREAM_KEY = "sk-fake-upstream-key-0123456789abcdef"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[Any] | None = None
    delay: float = 0.0
    cut: bool = False
    hang: float = 0.0

    @classmethod
    def json(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=body, headers=headers or {})

    @classmethod
    def stream(cls, events: list[Any], *, delay: float = 0.0, cut: bool = False) -> Reply:
        return cls(events=events, delay=delay, cut=cut)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int = 0


def error_body(message: str, etype: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def completion(
    text: str = "Hello from the fake upstream.",
    *,
    model: str = "gpt-4o-mini",
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if tool_calls else text,
        "refusal": None,
        "annotations": [],
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": usage
        or {
            "prompt_tokens": 12,
            "completion_tokens": 7,
            "total_tokens": 19,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0},
        },
    }


def chunk(
    delta: dict[str, Any] | None,
    finish: str | None = None,
    *,
    usage: Any = None,
    model: str = "gpt-4o-mini",
) -> dict[str, Any]:
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1763400000,
        "model": model,
        "choices": choices,
        "usage": usage,
    }


def default_stream(words: list[str], include_usage: bool) -> list[Any]:
    events: list[Any] = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": w}) for w in words]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(
            chunk(
                None,
                usage={
                    "prompt_tokens": 12,
                    "completion_tokens": len(words),
                    "total_tokens": 12 + len(words),
                    "prompt_tokens_details": {"cached_tokens": 4},
                },
            )
        )
    events.append("[DONE]")
    return events


class FakeOpenAI:
    def __init__(self, api_key: str = UPSTREAM_KEY) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.cancelled = 0
        self.model_listings = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _record(self, request: Request) -> dict[str, Any] | Response:
        body = msgspec.json.decode(await request.body())
        port = request.client.port if request.client else 0
        self.requests.append(Recorded(request.url.path, dict(request.headers), body, port))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(
                msgspec.json.encode(
                    error_body(
                        "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                    )
                ),
                status_code=401,
                media_type="application/json",
            )
        return body  # type: ignore[no-any-return]

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        reply = self.replies.popleft() if self.replies else None
        if reply is not None and reply.hang:
            await asyncio.sleep(reply.hang)
        if reply is not None and reply.events is not None:
            return self._sse(reply)
        if reply is not None:
            return Response(
                msgspec.json.encode(reply.body),
                status_code=reply.status,
                headers=reply.headers,
                media_type="application/json",
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if body.get("stream"):
            return self._sse(Reply.stream(default_stream(["Hello", " there", "!"], include_usage)))
        return Response(
            msgspec.json.encode(completion(model=body.get("model", "gpt-4o-mini"))),
            media_type="application/json",
        )

    async def _responses(self, request: Request) -> Response:
        """``/v1/responses``: the same scripts, answered in the Responses format."""
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        problem = fake_openai_responses.check_request(body)
        if problem is not None:
            return Response(
                msgspec.json.encode(error_body(problem, "invalid_request_error")),
                status_code=400,
                media_type="application/json",
            )
        model = str(body.get("model", "gpt-4o-mini"))
        reply = self.replies.popleft() if self.replies else None
        if reply is not None and reply.hang:
            await asyncio.sleep(reply.hang)
        if reply is not None and reply.events is not None:
            events = fake_openai_responses.stream_events(reply.events, model)
            return self._typed_sse(events, reply)
        if reply is not None:
            answer = reply.body
            if reply.status == 200 and isinstance(answer, dict):
                answer = fake_openai_responses.from_completion(answer)
            return Response(
                msgspec.json.encode(answer),
                status_code=reply.status,
                headers=reply.headers,
                media_type="application/json",
            )
        if body.get("stream"):
            return self._typed_sse(fake_openai_responses.default_stream(model), Reply())
        return Response(
            msgspec.json.encode(fake_openai_responses.default_answer(body)),
            media_type="application/json",
        )

    def _typed_sse(self, events: list[tuple[str, Any]], reply: Reply) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            try:
                for kind, data in events:
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                    if kind == "[DONE]":
                        if reply.cut:
                            raise ConnectionAbortedError
                        continue
                    payload = msgspec.json.encode(data).decode()
                    yield f"event: {kind}\ndata: {payload}\n\n".encode()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        return StreamingResponse(gen(), media_type="text/event-stream")

    def _sse(self, reply: Reply) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            try:
                for event in reply.events or []:
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                    data = event if isinstance(event, str) else msgspec.json.encode(event).decode()
                    if reply.cut and data == "[DONE]":
                        raise ConnectionAbortedError
                    yield f"data: {data}\n\n".encode()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def _models(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            body = error_body("Incorrect API key provided.", "invalid_request_error")
            return Response(
                msgspec.json.encode(body), status_code=401, media_type="application/json"
            )
        self.model_listings += 1
        data = [
            {"id": m, "object": "model", "created": 1763400000, "owned_by": "fake"}
            for m in ("llama-3.3-70b", "qwen-3-32b")
        ]
        return Response(
            msgspec.json.encode({"object": "list", "data": data}), media_type="application/json"
        )

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if isinstance(body, Response):
            return body
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), -0.2, 0.3]}
            for i in range(len(inputs))
        ]
        return Response(
            msgspec.json.encode(
                {
                    "object": "list",
                    "model": body["model"],
                    "data": data,
                    "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
                }
            ),
            media_type="application/json",
        )
