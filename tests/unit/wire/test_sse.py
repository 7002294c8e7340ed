"""``keyroute.wire.sse``: the incremental SSE parser and ``encode_event``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.core.errors import UpstreamError
from keyroute.wire.sse import SSEEvent, SSEParser, encode_event


def parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def every_split(data: bytes) -> list[list[bytes]]:
    """The stream whole, byte by byte, and split in two at every offset."""
    splits = [[data], [data[i : i + 1] for i in range(len(data))]]
    splits.extend([data[:i], data[i:]] for i in range(1, len(data)))
    return splits


def check(stream: bytes, expected: list[SSEEvent]) -> None:
    for chunks in every_split(stream):
        assert parse(chunks) == expected, chunks


E = SSEEvent


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"", []),
        (b"data: a\n\n", [E("a")]),
        (b"data:a\n\n", [E("a")]),
        (b"data:  a\n\n", [E(" a")]),  # only one leading space is removed
        (b"data: a\r\n\r\n", [E("a")]),
        (b"data: a\r\rdata: b\r\r", [E("a"), E("b")]),
        (b"data: a\n\ndata: b\n\n", [E("a"), E("b")]),
        (b"data: a\ndata: b\n\n", [E("a\nb")]),
        (b"data: a\r\ndata: b\r\n\r\n", [E("a\nb")]),
        (b"data\n\n", [E("")]),
        (b"data:\n\n", [E("")]),
        (b"data: \n\n", [E("")]),
        (b": keep-alive\n\n", []),
        (b": comment\ndata: a\n: another\n\n", [E("a")]),
        (b"event: ping\n\n", []),  # no data: nothing dispatched
        (b"event: ping\n\ndata: a\n\n", [E("a")]),  # and the event name is reset
        (b"event: message_start\ndata: {}\n\n", [E("{}", event="message_start")]),
        (b"id: 7\ndata: a\n\n", [E("a", id="7")]),
        (b"id: 7\ndata: a\n\ndata: b\n\n", [E("a", id="7"), E("b", id="7")]),  # id persists
        (b"retry: 1000\nfoo: bar\ndata: a\n\n", [E("a")]),  # unknown fields ignored
        (b"data: a:b: c\n\n", [E("a:b: c")]),
        (b"data: [DONE]\n\n", [E("[DONE]")]),
        ("data: héllo – 日本 🎉\n\n".encode(), [E("héllo – 日本 🎉")]),
        (b"data: \xff\n\n", [E("\ufffd")]),  # invalid UTF-8 is replaced, not fatal
        # close() flushes what a stream left without its blank line
        (b"data: a", [E("a")]),
        (b"data: a\n", [E("a")]),
        (b"data: a\r", [E("a")]),
        (b"data: a\r\n", [E("a")]),
        (b"event: e\ndata: a\ndata: b", [E("a\nb", event="e")]),
        (b"data: a\n\ndata: b", [E("a"), E("b")]),
        (b"data: a\n\n: trailing comment", [E("a")]),
    ],
)
def test_parse(stream: bytes, expected: list[SSEEvent]) -> None:
    check(stream, expected)


def test_feed_returns_events_as_soon_as_they_are_complete() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"\ndata: b\n") == [E("a")]
    assert parser.feed(b"\r") == [E("b")]  # a \r ends the blank line, \n or not after it
    assert parser.feed(b"\n") == []  # the pair of that \r: not another blank line
    assert parser.close() == []


def test_split_inside_crlf_is_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    # the \n completes the \r\n above: the line ends once, no blank line yet
    assert parser.feed(b"\ndata: b\r\n\r\n") == [E("a\nb")]


def test_split_inside_a_multibyte_character() -> None:
    raw = "data: 🎉\n\n".encode()
    for cut in range(len("data: "), len(raw) - 2):
        parser = SSEParser()
        assert parser.feed(raw[:cut]) == []
        assert parser.feed(raw[cut:]) == [E("🎉")]


def test_close_resets_the_parser() -> None:
    parser = SSEParser()
    parser.feed(b"data: a")
    assert parser.close() == [E("a")]
    assert parser.close() == []
    assert parser.feed(b"data: b\n\n") == [E("b")]


def test_a_line_end_split_from_an_empty_chunk_after_it() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\n") == []  # still the pair of the \r: not a blank line
    assert parser.feed(b"\n") == [E("a")]


LIMIT = 64


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: " + b"x" * 100 + b"\n\n"],  # whole, in one chunk
        [b"data: " + b"x" * 100],  # no line end yet
        [b"data: "] + [b"x"] * 100,  # a byte at a time
        [b"data: " + b"x" * 30 + b"\n", b"data: " + b"y" * 40 + b"\n"],  # one event's data
        [b"data: a\n\n" + b"z" * 100],  # the unfinished line after a complete event
    ],
)
def test_a_line_or_event_over_the_limit_is_an_upstream_error(chunks: list[bytes]) -> None:
    parser = SSEParser(max_line_bytes=LIMIT, provider="acme")
    with pytest.raises(UpstreamError, match="acme.*longer than 64 bytes") as err:
        for chunk in chunks:
            parser.feed(chunk)
    assert err.value.status_code() == 502


def test_an_unnamed_provider_is_not_named() -> None:
    with pytest.raises(UpstreamError, match="^The provider sent a server-sent event line longer"):
        SSEParser(max_line_bytes=LIMIT).feed(b"x" * 100)


def test_lines_and_events_at_the_limit_pass() -> None:
    parser = SSEParser(max_line_bytes=LIMIT)
    line = b"data: " + b"x" * (LIMIT - 6)
    assert parser.feed(line[:10]) == []
    assert parser.feed(line[10:] + b"\n\n") == [E("x" * (LIMIT - 6))]


def test_a_long_line_in_small_chunks_is_linear() -> None:
    # Quadratic parsing copied the whole buffer per chunk: 2 MiB in 64-byte chunks was
    # tens of gigabytes of copying. Linear parsing copies it about twice.
    parser = SSEParser()
    assert parser.feed(b"data: ") == []
    piece = b"x" * 64
    for _ in range(2 * 1024 * 1024 // 64):
        assert parser.feed(piece) == []
    assert parser.feed(b"\n\n") == [E("x" * 2 * 1024 * 1024)]


def test_the_default_limit_admits_large_events() -> None:
    data = "y" * (1024 * 1024)
    assert SSEParser().feed(f"data: {data}\n\n".encode()) == [E(data)]


@pytest.mark.parametrize(
    ("data", "event", "expected"),
    [
        (b"{}", None, b"data: {}\n\n"),
        (b"[DONE]", None, b"data: [DONE]\n\n"),
        (b'{"a":1}', "message_start", b'event: message_start\ndata: {"a":1}\n\n'),
        (b"", None, b"data: \n\n"),
    ],
)
def test_encode_event(data: bytes, event: str | None, expected: bytes) -> None:
    assert encode_event(data, event) == expected


# Any text without line ends (encode_event's precondition); surrogates cannot be UTF-8.
line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"))
events = st.lists(st.tuples(line_text, st.none() | line_text), max_size=8)


@settings(max_examples=300, deadline=None)
@given(events=events, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_split_of_encoded_events_parses_back(
    events: list[tuple[str, str | None]], cuts: list[int]
) -> None:
    stream = b"".join(encode_event(data.encode(), event) for data, event in events)
    offsets = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *offsets, len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    parser = SSEParser()
    parsed: list[SSEEvent] = []
    for chunk in chunks:
        parsed.extend(parser.feed(chunk))
    assert parser.close() == []
    assert parsed == [SSEEvent(data=data, event=event) for data, event in events]
