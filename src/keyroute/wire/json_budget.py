"""A bound on how many JSON values an inbound body may hold, checked before it is decoded.

A body is bounded in bytes (``server.max_body_bytes``), but decoding it costs memory per value:
10 MiB of one-word messages or of empty arrays is a million Python objects and 120-250 MB. Every
inbound decoder calls ``check`` first, so no body is ever decoded into more values than its budget.

Invariants:
- ``check`` allocates nothing in proportion to the body's values. A body's values are counted as
  the commas and opening brackets outside its strings (every value but the first follows one of
  them, so this bounds the values from above; an empty container counts twice). A body shorter
  than its budget in bytes costs nothing; a longer one costs one ``bytes.translate`` pass (an
  upper bound that ignores strings, about 1 ms per MB); only a body over that bound is scanned
  exactly, string by string, stopping as soon as it is over budget.
- Over budget is an ``InvalidRequest`` (a 400) naming the top-level field that holds the most
  values when it is one of the decoder's ``fields`` (``messages``, ``tools``, ``input``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from keyroute.core.errors import InvalidRequest

MAX_REQUEST_VALUES = 100_000
"""Chat, Messages and Responses bodies: far above any real conversation (a long agent session
with dozens of tools is a few thousand), and under 50 MB to decode at its worst."""
MAX_EMBEDDING_VALUES = 400_000
"""Embeddings bodies: 2,048 inputs of token ids, up to OpenAI's 300,000 tokens per request."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b",[{")


def _bound(data: bytes, start: int, end: int) -> int:
    """Commas plus opening brackets in ``data[start:end]``."""
    return (
        data.count(b",", start, end) + data.count(b"[", start, end) + data.count(b"{", start, end)
    )


def count_values(body: bytes, stop: int) -> int:
    """An upper bound on the JSON values in ``body`` (commas and brackets outside its strings),
    or any number over ``stop`` as soon as the count passes it.

    Strings are found one by one (nothing is copied); a string is a value or a key, so there are
    at most about twice as many of them as values, and the scan stops past ``stop`` values.
    """
    total = 0
    pos = 0
    for match in _STRING.finditer(body):
        total += _bound(body, pos, match.start())
        if total > stop:
            return total
        pos = match.end()
    return total + _bound(body, pos, len(body)) + 1


def check(body: bytes, limit: int, fields: Iterable[str] = ()) -> None:
    """Refuse ``body`` (``InvalidRequest``) when it holds more than ``limit`` JSON values.

    ``fields`` are the top-level fields to blame by name: the heaviest of them is the error's
    ``param`` when it alone holds more than half of ``limit``.
    """
    if len(body) < limit or len(body.translate(None, _NOT_STRUCTURE)) < limit:
        return  # each comma or bracket is a byte: a short body cannot be over budget
    if count_values(body, limit) <= limit:
        return
    where = _heaviest(body, tuple(fields), limit)
    if where is not None:
        raise InvalidRequest(
            f"'{where}' holds too many JSON values: a request body may hold at most {limit:,}.",
            param=where,
        )
    raise InvalidRequest(f"The request body holds more than {limit:,} JSON values.")


def _heaviest(body: bytes, fields: tuple[str, ...], limit: int) -> str | None:
    """The field of ``fields`` holding the most values if over half ``limit`` (no value decoded)."""
    if not fields:
        return None
    shape = msgspec.defstruct("Fields", [(name, msgspec.Raw, msgspec.Raw(b"")) for name in fields])
    try:
        top = msgspec.json.decode(body, type=shape)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None  # not an object of the expected shape: the budget error stands alone
    counts = {name: count_values(bytes(getattr(top, name)), limit) for name in fields}
    where = max(counts, key=counts.__getitem__)
    return where if counts[where] * 2 > limit else None
