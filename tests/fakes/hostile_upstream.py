"""A hostile upstream: a raw-socket HTTP/1.1 server that answers as a broken or malicious provider.

``HostileUpstream().running()`` serves on ``127.0.0.1:0`` in a thread of its own and yields the
base URL. The first path segment picks the mode, so one server plays every part:
``{url}/{mode}`` is an Anthropic or Gemini base URL, ``{url}/{mode}/v1`` an OpenAI one. The
provider is read from the rest of the path (``/v1/messages``, ``:generateContent``,
``/chat/completions``), and streaming from the path (Gemini) or the JSON body's ``stream``.

Modes (``MODES``):

- ``ok``: a valid answer in the provider's format (to check the fake itself, and to warm up).
- ``redirect``: ``307`` to another host.
- ``huge_body``: a 64 MiB body, sent as fast as the client reads.
- ``bomb``: 128 MiB of one byte, gzip-compressed to about 127 KB (``content-encoding: gzip``).
- ``huge_line``: a 64 MiB SSE ``data:`` line that never ends.
- ``huge_error``: a ``500`` whose JSON error message is 32 MiB.
- ``stream_error``: a ``200`` carrying the provider's error object (in-band when streaming) with
  a 1 MiB message and a 1 MiB code.
- ``silent_head``: reads the request and never answers.
- ``silent_mid``: sends the head and the start of the body, then nothing.
- ``trickle``: a valid answer, one byte every 20 ms (never finishes in time).
- ``foreign``: a valid answer in another provider's format (an OpenAI body to Anthropic...).
- ``html``: a 200 HTML page.
- ``truncated``: JSON (or a first SSE event) cut in the middle, then the end of the body.
- ``empty``: a 200 with an empty body.
- ``garbage``: bytes that are not an HTTP response at all.
- ``bad_encoding``: ``content-encoding: gzip`` on bytes that are not gzip.
- ``flood`` (not in ``MODES``: it is for slow-client tests, not an upstream fault): a valid
  OpenAI stream of 16 KiB text deltas that never ends (up to 1 GiB), as fast as it is read.

Faults (``FAULTS``, for the fallback acceptance matrix: each is a failure a provider really
has, which the next candidate should answer or the client get as a correct error):

- ``status_500``, ``status_503``, ``status_529``: that status with the provider's error object.
- ``rate_limited``: ``429`` rate limit with ``retry-after: 1``.
- ``quota``: quota or credit exhausted (OpenAI ``429 insufficient_quota``, Anthropic ``400``
  credit balance too low, Gemini ``429 RESOURCE_EXHAUSTED`` quota).
- ``unauthorized``: ``401`` (a bad key).
- ``context``: ``400`` context length exceeded, in the provider's words.
- ``reset``: the connection is reset (TCP RST) right after the request, before any byte.
- ``reset_head``: the head, then a reset before the first event or byte of the body.
- ``reset_content``: the head and the first content event (or half the body), then a reset.
- ``cut``: a stream's events up to its terminator, which never comes (the connection closes
  cleanly); a whole answer cut the same way.

A ``{url}/switch`` base URL plays whichever mode ``HostileUpstream.switch`` names at the time
(a provider that fails, then recovers).

Everything is bounded: bodies stop when the client stops reading, silences end when the client
closes or the server stops, and ``running()`` closes every connection on exit.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache

MiB = 1024 * 1024
MODES = (
    "ok",
    "redirect",
    "huge_body",
    "bomb",
    "huge_line",
    "huge_error",
    "stream_error",
    "silent_head",
    "silent_mid",
    "trickle",
    "foreign",
    "html",
    "truncated",
    "empty",
    "garbage",
    "bad_encoding",
)
PROVIDERS = ("openai", "anthropic", "gemini")
FAULTS = (
    "status_500",
    "status_503",
    "status_529",
    "rate_limited",
    "quota",
    "unauthorized",
    "context",
    "reset",
    "reset_head",
    "reset_content",
    "cut",
)

OPENAI_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
GEMINI_BODY = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
    "modelVersion": "m",
    "responseId": "r1",
}
BODIES = {"openai": OPENAI_BODY, "anthropic": ANTHROPIC_BODY, "gemini": GEMINI_BODY}
FOREIGN = {"openai": "anthropic", "anthropic": "openai", "gemini": "openai"}


def stream_events(provider: str) -> list[bytes]:
    """A complete, valid streamed answer in ``provider``'s SSE format."""
    if provider == "openai":
        chunk = {k: v for k, v in OPENAI_BODY.items() if k != "usage"}
        delta = {**chunk, "object": "chat.completion.chunk"}
        first = {
            **delta,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
        }
        last = {**delta, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        return [_data(first), _data(last), b"data: [DONE]\n\n"]
    if provider == "anthropic":
        start = {**ANTHROPIC_BODY, "content": [], "stop_reason": None}
        return [
            _event("message_start", {"type": "message_start", "message": start}),
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "hi"},
                },
            ),
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 1},
                },
            ),
            _event("message_stop", {"type": "message_stop"}),
        ]
    text = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}
    first = {**text, "modelVersion": "m", "responseId": "r1"}
    end = {"content": {"role": "model", "parts": []}, "finishReason": "STOP"}
    last = {**GEMINI_BODY, "candidates": [end]}
    return [_data(first), _data(last)]


def _data(body: object) -> bytes:
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _event(name: str, body: object) -> bytes:
    return f"event: {name}\n".encode() + _data(body)


@cache
def gzip_bomb() -> bytes:
    """128 MiB of ``a`` after ``data: ``, gzip-compressed (about 127 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [packer.compress(b"data: ")]
    block = b"a" * MiB
    out.extend(packer.compress(block) for _ in range(128))
    out.append(packer.flush())
    return b"".join(out)


class Exchange:
    """One request: what was asked, and the writer to answer on."""

    def __init__(
        self,
        mode: str,
        provider: str,
        stream: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.mode, self.provider, self.stream = mode, provider, stream
        self.reader, self.writer = reader, writer

    async def head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join([*lines, "connection: close"]) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def send(self, data: bytes) -> None:
        if self.reader.at_eof() or self.writer.is_closing():
            raise ConnectionResetError("the client went away")
        self.writer.write(data)
        await self.writer.drain()

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.stream else "application/json"

    def valid_body(self, provider: str | None = None) -> bytes:
        chosen = provider or self.provider
        if self.stream:
            return b"".join(stream_events(chosen))
        return json.dumps(BODIES[chosen]).encode()


Handler = Callable[[Exchange, asyncio.StreamReader], Awaitable[None]]


async def _until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def _ok(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    await x.send(body)


async def _redirect(x: Exchange, reader: asyncio.StreamReader) -> None:
    await x.head(307, {"location": "http://127.0.0.1:9/steal", "content-length": "0"})


async def _endless(x: Exchange, first: bytes, filler: bytes, total: int) -> None:
    await x.head(200, {"content-type": x.content_type})
    await x.send(first)
    block = filler * MiB
    for _ in range(total // MiB):
        await x.send(block)


async def _huge_body(x: Exchange, reader: asyncio.StreamReader) -> None:
    first = b'data: {"id": "' if x.stream else b'{"id": "'
    await _endless(x, first, b"a", 64 * MiB)


async def _huge_line(x: Exchange, reader: asyncio.StreamReader) -> None:
    await _endless(x, b"data: ", b"x", 64 * MiB)


async def _bomb(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = gzip_bomb()
    headers = {"content-type": x.content_type, "content-encoding": "gzip"}
    await x.head(200, {**headers, "content-length": str(len(body))})
    await x.send(body)


async def _huge_error(x: Exchange, reader: asyncio.StreamReader) -> None:
    # The head goes first and the body in blocks, so the head is never late.
    prefix, suffix = b'{"error": {"message": "', b'", "type": "server_error"}}'
    size = len(prefix) + 32 * MiB + len(suffix)
    await x.head(500, {"content-type": "application/json", "content-length": str(size)})
    await x.send(prefix)
    block = b"e" * MiB
    for _ in range(32):
        await x.send(block)
    await x.send(suffix)


def error_object(provider: str) -> bytes:
    """``provider``'s error shape with a 1 MiB message and code (type ``api_error``/500)."""
    big = "e" * MiB
    if provider == "anthropic":
        return json.dumps(
            {"type": "error", "error": {"type": "api_error", "message": big}}
        ).encode()
    if provider == "gemini":
        error = {"code": 500, "message": big, "status": "INTERNAL"}
        return json.dumps({"error": error}).encode()
    return json.dumps({"error": {"message": big, "type": "server_error", "code": big}}).encode()


async def _stream_error(x: Exchange, reader: asyncio.StreamReader) -> None:
    error = error_object(x.provider)
    if x.stream:
        name = b"event: error\n" if x.provider == "anthropic" else b""
        error = name + b"data: " + error + b"\n\n"
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(error))})
    await x.send(error)


async def _silent_head(x: Exchange, reader: asyncio.StreamReader) -> None:
    await _until_closed(reader)


async def _silent_mid(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    await x.send(stream_events(x.provider)[0] if x.stream else body[:10])
    await _until_closed(reader)


async def _trickle(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    for i in range(len(body)):
        await x.send(body[i : i + 1])
        await asyncio.sleep(0.02)


async def _foreign(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body(FOREIGN[x.provider])
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    await x.send(body)


async def _html(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    await x.head(200, {"content-type": "text/html", "content-length": str(len(body))})
    await x.send(body)


async def _truncated(x: Exchange, reader: asyncio.StreamReader) -> None:
    if x.stream:
        first = stream_events(x.provider)[0]
        body = first[: len(first) // 2] + b"\n\n"
    else:
        whole = x.valid_body()
        body = whole[: len(whole) // 2]
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    await x.send(body)


async def _empty(x: Exchange, reader: asyncio.StreamReader) -> None:
    await x.head(200, {"content-type": x.content_type, "content-length": "0"})


async def _garbage(x: Exchange, reader: asyncio.StreamReader) -> None:
    await x.send(b"\x00\x01 this is not HTTP at all \xff\r\n\r\n")


async def _bad_encoding(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = b"data: this is not gzip\n\n" * 10
    headers = {"content-type": x.content_type, "content-encoding": "gzip"}
    await x.head(200, {**headers, "content-length": str(len(body))})
    await x.send(body)


async def _flood(x: Exchange, reader: asyncio.StreamReader) -> None:
    first = stream_events("openai")[0]
    await x.head(200, {"content-type": "text/event-stream"})
    await x.send(first)
    big = first.replace(b'"hi"', b'"' + b"a" * 16384 + b'"')
    for _ in range(1024 * MiB // len(big)):
        await x.send(big)


def provider_error(provider: str, status: int, message: str, kind: str = "") -> bytes:
    """``provider``'s own error object for ``status`` (``kind``: its type or code)."""
    if provider == "anthropic":
        etype = kind or {429: "rate_limit_error", 401: "authentication_error"}.get(
            status, "overloaded_error" if status == 529 else "api_error"
        )
        if status == 400:
            etype = kind or "invalid_request_error"
        return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()
    if provider == "gemini":
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}
        error = {
            "code": status,
            "message": message,
            "status": kind or names.get(status, "INTERNAL"),
        }
        return json.dumps({"error": error}).encode()
    types = {429: "requests", 401: "invalid_request_error", 400: "invalid_request_error"}
    body = {"message": message, "type": types.get(status, "server_error"), "code": kind or None}
    return json.dumps({"error": body}).encode()


async def _error(
    x: Exchange, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    extra = headers or {}
    await x.head(
        status, {"content-type": "application/json", "content-length": str(len(body)), **extra}
    )
    await x.send(body)


def _status(status: int) -> Handler:
    async def answer(x: Exchange, reader: asyncio.StreamReader) -> None:
        await _error(x, status, provider_error(x.provider, status, f"upstream {status}"))

    return answer


async def _rate_limited(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = provider_error(x.provider, 429, "Rate limit reached, slow down.")
    await _error(x, 429, body, {"retry-after": "1"})


async def _quota(x: Exchange, reader: asyncio.StreamReader) -> None:
    if x.provider == "anthropic":
        message = "Your credit balance is too low to access the Anthropic API."
        await _error(x, 400, provider_error(x.provider, 400, message))
        return
    kind = "insufficient_quota" if x.provider == "openai" else ""
    message = "You exceeded your current quota (Quota exceeded for quota metric), check billing."
    await _error(x, 429, provider_error(x.provider, 429, message, kind))


async def _unauthorized(x: Exchange, reader: asyncio.StreamReader) -> None:
    await _error(x, 401, provider_error(x.provider, 401, "Invalid API key."))


async def _context(x: Exchange, reader: asyncio.StreamReader) -> None:
    messages = {
        "openai": "This model's maximum context length is 128000 tokens.",
        "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
        "gemini": "The input token count (1200000) exceeds the maximum number of tokens allowed.",
    }
    kind = "context_length_exceeded" if x.provider == "openai" else ""
    await _error(x, 400, provider_error(x.provider, 400, messages[x.provider], kind))


def _abort(x: Exchange) -> None:
    """Close with a TCP reset (``SO_LINGER`` 0), as a crashed or cut-off host does."""
    sock = x.writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    x.writer.transport.abort()


async def _reset(x: Exchange, reader: asyncio.StreamReader) -> None:
    _abort(x)


async def _reset_head(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    await asyncio.sleep(0.05)  # the head leaves on its own, then the reset
    _abort(x)


async def _reset_content(x: Exchange, reader: asyncio.StreamReader) -> None:
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type, "content-length": str(len(body))})
    events = stream_events(x.provider)
    first = b"".join(events[:3]) if x.provider == "anthropic" else events[0]
    await x.send(first if x.stream else body[: len(body) // 2])
    await asyncio.sleep(0.05)
    _abort(x)


async def _cut(x: Exchange, reader: asyncio.StreamReader) -> None:
    if x.stream:
        body = b"".join(stream_events(x.provider)[:-1])
        await x.head(200, {"content-type": x.content_type})
        await x.send(body)
        return
    body = x.valid_body()
    await x.head(200, {"content-type": x.content_type})
    await x.send(body[: len(body) - 5])


HANDLERS: dict[str, Handler] = {
    "status_500": _status(500),
    "status_503": _status(503),
    "status_529": _status(529),
    "rate_limited": _rate_limited,
    "quota": _quota,
    "unauthorized": _unauthorized,
    "context": _context,
    "reset": _reset,
    "reset_head": _reset_head,
    "reset_content": _reset_content,
    "cut": _cut,
    "ok": _ok,
    "redirect": _redirect,
    "huge_body": _huge_body,
    "bomb": _bomb,
    "huge_line": _huge_line,
    "huge_error": _huge_error,
    "stream_error": _stream_error,
    "silent_head": _silent_head,
    "silent_mid": _silent_mid,
    "trickle": _trickle,
    "foreign": _foreign,
    "html": _html,
    "truncated": _truncated,
    "empty": _empty,
    "garbage": _garbage,
    "bad_encoding": _bad_encoding,
    "flood": _flood,
}


def provider_of(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/v1/messages"):
        return "anthropic"
    return "gemini"


class HostileUpstream:
    """The server; ``requests`` lists ``(mode, provider, stream)`` of everything it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bool]] = []
        self.switch = "ok"  # the mode a ``{url}/switch`` base URL plays now
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def open_connections(self) -> int:
        """Connections the server still holds (a client's request being answered)."""
        return len(self._writers)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            mode = path.strip("/").split("/", 1)[0]
            if mode == "switch":  # a provider whose behaviour a test changes as it runs
                mode = self.switch
            provider = provider_of(path.split("?", 1)[0])
            stream = "streamGenerateContent" in path or bool(
                body and json.loads(body).get("stream")
            )
            self.requests.append((mode, provider, stream))
            await HANDLERS[mode](Exchange(mode, provider, stream, reader, writer), reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (what a bounded gateway does): that is the point
        finally:
            self._writers.discard(writer)
            writer.close()

    @contextmanager
    def running(self) -> Iterator[str]:
        gzip_bomb()  # made once, before serving, so the bomb mode answers at once
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        holder: dict[str, asyncio.Server] = {}

        async def start() -> None:
            holder["server"] = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            ready.set()

        thread = threading.Thread(target=loop.run_forever, name="hostile-upstream", daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop)
        if not ready.wait(10):
            raise RuntimeError("hostile upstream did not start")
        port = holder["server"].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:

            async def stop() -> None:
                holder["server"].close()
                for writer in list(self._writers):
                    writer.close()
                await asyncio.sleep(0)

            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
