"""Server-sent events: an incremental parser and a serialiser.

The parser follows the WHATWG event-stream rules that matter for LLM APIs: ``\\n``, ``\\r\\n`` and
``\\r`` line ends; ``data`` lines joined by ``\\n``; comment lines (``:``) ignored; an event is
dispatched at a blank line. Bytes may arrive split anywhere, including inside a UTF-8 sequence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes, get complete events. ``close()`` returns an event left without a blank line."""

    __slots__ = ("_buffer", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            # A lone trailing \r may be the first half of \r\n: keep it for the next chunk.
            keep_cr = buffer.endswith(b"\r")
            if keep_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer += b"\r"
        *lines, rest = buffer.split(b"\n")
        self._buffer = rest
        events: list[SSEEvent] = []
        for raw in lines:
            event = self._line(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        tail = self._buffer.rstrip(b"\r")
        if tail:
            event = self._line(tail.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        self._buffer = b""
        final = self._dispatch()
        if final is not None:
            events.append(final)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = None
            return None
        event = SSEEvent(data="\n".join(self._data), event=self._event, id=self._id)
        self._data = []
        self._event = None
        return event


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event as bytes. ``data`` must not contain newlines (compact JSON never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
