"""Server-sent events: an incremental, linear-time parser with a line-length cap, and a serialiser.

The parser follows the WHATWG event-stream rules that matter for LLM APIs: ``\\n``, ``\\r\\n`` and
``\\r`` line ends; ``data`` lines joined by ``\\n``; comment lines (``:``) ignored; an event is
dispatched at a blank line. Bytes may arrive split anywhere, including inside a UTF-8 sequence
or between the ``\\r`` and ``\\n`` of one line end.

Invariants:

- **Linear time.** Each chunk is scanned once for its last line end; only the bytes of an
  unfinished line are kept, and they are copied once more when the line completes. A line that
  arrives a byte at a time costs what it would cost whole.
- **Bounded memory.** A line, or the data of one event, longer than ``max_line_bytes`` is an
  ``UpstreamError`` (502) that says so, raised as soon as the limit is passed: a provider that
  sends an endless line without a newline is stopped, not buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyroute.core.errors import UpstreamError

# Far above any event an LLM API sends (a chunk is a few hundred bytes; a Gemini chunk with
# grounding metadata a few KB), low enough that a hostile stream costs little.
DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes, get complete events. ``close()`` returns an event left without a blank line.

    Args:
        max_line_bytes: The longest line (and the most data one event may carry).
        provider: Who sends the stream, named in the error when a line is too long (unnamed
            when ``None``).
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_limit",
        "_partial",
        "_provider",
        "_skip_lf",
    )

    def __init__(
        self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, provider: str | None = None
    ) -> None:
        self._partial = bytearray()  # the unfinished last line; never holds a line end
        self._skip_lf = False  # the last chunk ended in "\r": a "\n" starting the next is its pair
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._limit = max_line_bytes
        self._provider = provider

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events ``chunk`` completes.

        Raises:
            UpstreamError: A line or an event's data is longer than ``max_line_bytes``.
        """
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:  # b"\n", the pair of the "\r" that ended the last chunk
                chunk = chunk[1:]
                if not chunk:
                    return []
        last = chunk[-1]
        if (last == 10 or last == 13) and not self._partial:
            block = chunk  # the usual case: a provider sends whole events
        else:
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            if not end:
                self._partial += chunk
                if len(self._partial) > self._limit:
                    raise self._too_long()
                return []
            self._partial += chunk[:end]
            block = bytes(self._partial)
            self._partial = bytearray(chunk[end:])
            if len(self._partial) > self._limit:
                raise self._too_long()
        self._skip_lf = block[-1] == 13  # b"\r"
        return self._lines(block)

    def close(self) -> list[SSEEvent]:
        """The stream ended: the events left in the buffer, the last one without its blank line."""
        events: list[SSEEvent] = []
        self._skip_lf = False
        if self._partial:
            events = self._lines(bytes(self._partial) + b"\n")
            self._partial = bytearray()
        final = self._dispatch()
        if final is not None:
            events.append(final)
        return events

    def _lines(self, block: bytes) -> list[SSEEvent]:
        """The events of ``block``, whole lines each ending in a line end."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if len(block) > self._limit and max(map(len, block.split(b"\n"))) > self._limit:
            raise self._too_long()
        lines = block.decode("utf-8", errors="replace").split("\n")
        lines.pop()  # the empty string after the last line end
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(value)
            if self._data_size > self._limit:
                raise self._too_long()
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
        self._data_size = 0
        self._event = None
        return event

    def _too_long(self) -> UpstreamError:
        self._partial = bytearray()
        who = "The provider" if self._provider is None else f"Provider '{self._provider}'"
        return UpstreamError(
            f"{who} sent a server-sent event line longer than {self._limit} bytes; "
            "the stream was stopped there.",
            provider=self._provider or "unknown",
        )


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event as bytes. ``data`` must not contain newlines (compact JSON never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
