"""A zero-latency fake OpenAI upstream for benchmarks: fixed bytes, raw ASGI, no framework.

Run: python bench/upstream.py PORT. Answers any POST with one chat completion (or, when the body
has "stream": true, 16 content chunks, a finish chunk, a usage chunk and [DONE]).
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import uvicorn

COMPLETION = msgspec.json.encode(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1763400000,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "word " * 16, "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 16,
            "total_tokens": 36,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
)


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1763400000,
        "model": "gpt-4o-mini",
        "choices": choices,
        "usage": usage,
    }
    return b"data: " + msgspec.json.encode(body) + b"\n\n"


STREAM = [_chunk({"role": "assistant", "content": ""})]
STREAM += [_chunk({"content": "word "}) for _ in range(16)]
STREAM += [
    _chunk({}, "stop"),
    _chunk(None, usage={"prompt_tokens": 20, "completion_tokens": 16, "total_tokens": 36}),
    b"data: [DONE]\n\n",
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if b'"stream":true' in body:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for event in STREAM:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(COMPLETION)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": COMPLETION})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
