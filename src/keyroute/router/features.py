"""Request features for the difficulty scorer: hashed n-grams and shape tokens, vectorised.

A request becomes a few *feature families*, each an array of indices into one shared weight table
of ``TABLE_SIZE`` entries: the model's logit is ``bias + sum(scale_f * sum(weights[indices_f]))``
where ``scale_f`` depends only on the family's size (see ``model.py``). The same function feeds
training (the indices become a sparse matrix) and scoring (a gather and a sum), so the two
cannot drift apart.

Families:
- ``user_char``: character 4-grams of the last user turn;
- ``user_word``: its words and word bigrams;
- ``system``: words and word bigrams of the system and developer messages;
- ``shape``: one token per bucketed shape measure (length, turns, code fences, digits, maths
  symbols, lines, questions, tools, requested output size, output format, effort, images).

Text is read as UTF-8 bytes, ASCII letters lower-cased. A character 4-gram is its four bytes read
as one little-endian ``uint32`` (a strided view of the text, no copy), mixed by two odd
multiplications. Words are hashed polynomially modulo 2**32 (numpy's wrapping ``uint32``
arithmetic) over prefix sums: the hash of ``data[i:j]`` is ``(prefix[j] - prefix[i]) * BASE**-i``.
Every n-gram and every word is hashed by a handful of array operations, without a Python loop per
character or word. An index is the top ``BITS`` bits of a mixed hash. Long turns keep their head
and tail (``HEAD_BYTES`` + ``TAIL_BYTES``): the cost is bounded whatever the prompt's size, and
most of it is a fixed number of numpy calls.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keyroute.core.chat import ChatRequest, Message

BITS = 18
TABLE_SIZE = 1 << BITS
CHAR_NGRAM = 4
HEAD_BYTES = 2_048
TAIL_BYTES = 1_024
SYSTEM_BYTES = 2_048
FAMILIES = ("user_char", "user_word", "system", "shape")
VERSION = 3
"""Bump whenever the mapping from a request to indices changes: a model trained on another
version's indices is refused by the loader."""

Indices = npt.NDArray[np.uint32]
_U32 = np.uint32
_MOD = 1 << 32
_BASE = 0x9E3779B1  # odd, so invertible modulo 2**32
_SHIFT = _U32(32 - BITS)
_MIX_SHIFT = _U32(15)
_CHAR_MIX = (_U32(0x27D4EB2F), _U32(0x165667B1))
_PAIR = _U32(0x85EBCA6B)
_WORD_MIX = _U32(0xD3A2646D)
_WORD2_MIX = _U32(0xFD7046C5)
_SYS_MIX = _U32(0xB55A4F09)
_SYS2_MIX = _U32(0x8F1BBCDD)


def _powers(base: int, count: int) -> npt.NDArray[np.uint32]:
    out = np.empty(count, dtype=np.uint32)
    value = 1
    for i in range(count):
        out[i] = value
        value = (value * base) % _MOD
    return out


_MAX_BYTES = max(HEAD_BYTES + TAIL_BYTES + 1, SYSTEM_BYTES)
_POW = _powers(_BASE, _MAX_BYTES)
_INV = _powers(pow(_BASE, -1, _MOD), _MAX_BYTES)


@dataclass(frozen=True, slots=True)
class Features:
    """The indices of each family (into a table of ``TABLE_SIZE``), in ``FAMILIES`` order.

    ``joined`` is all of them end to end and family ``f`` is ``joined[bounds[f]:bounds[f + 1]]``,
    so the model gathers its weights in one call.
    """

    joined: Indices
    bounds: tuple[int, ...]

    @classmethod
    def of(cls, families: tuple[Indices, ...]) -> Features:
        bounds = [0]
        for family in families:
            bounds.append(bounds[-1] + len(family))
        return cls(np.concatenate(families), tuple(bounds))

    @property
    def indices(self) -> tuple[Indices, ...]:
        b = self.bounds
        return tuple(self.joined[b[i] : b[i + 1]] for i in range(len(b) - 1))

    @property
    def counts(self) -> tuple[int, ...]:
        b = self.bounds
        return tuple(b[i + 1] - b[i] for i in range(len(b) - 1))


# Byte classes: a byte at or above _LETTER is part of a word; the shape measures count them.
_OTHER, _MATHS, _LETTER, _DIGIT, _HIGH = range(5)


def _class_table() -> bytes:
    """A ``bytes.translate`` table from a byte to its class."""
    classes = bytearray(256)
    classes[ord("a") : ord("z") + 1] = bytes([_LETTER]) * 26
    classes[ord("A") : ord("Z") + 1] = bytes([_LETTER]) * 26
    classes[ord("0") : ord("9") + 1] = bytes([_DIGIT]) * 10
    for char in "=+*/^<>%\\":
        classes[ord(char)] = _MATHS
    classes[128:] = bytes([_HIGH]) * 128
    return bytes(classes)


_CLASSES = _class_table()
_EMPTY: Indices = np.empty(0, dtype=np.uint32)
_NEWLINE, _QUESTION, _FENCE = b"\n", b"?", b"```"
_CLASS_BYTE = {c: bytes([c]) for c in range(5)}


def _clip(text: str, head: int, tail: int) -> bytes:
    """The UTF-8 bytes of ``text``, only its first ``head`` and last ``tail`` when longer."""
    if len(text) > head + tail:  # a character is at least one byte: encode only what is kept
        text = text[:head] + "\n" + text[len(text) - tail :] if tail else text[:head]
    data = text.encode("utf-8", "replace")
    if len(data) <= head + tail:
        return data
    return data[:head] + b"\n" + data[len(data) - tail :] if tail else data[:head]


@dataclass(frozen=True, slots=True)
class _Text:
    """One text as lower-cased bytes (ASCII letters only), head and tail kept, and the class of
    each byte (``classes``, with a zero byte at each end)."""

    data: bytes
    classes: bytes

    @classmethod
    def of(cls, text: str, head: int, tail: int) -> _Text:
        data = _clip(text, head, tail).lower()
        return cls(data, (b"\0" + data + b"\0").translate(_CLASSES))

    @property
    def size(self) -> int:
        return len(self.data)

    def count(self, byte_class: int) -> int:
        return self.classes.count(_CLASS_BYTE[byte_class])

    def ngrams(self) -> Indices:
        """Indices of every ``CHAR_NGRAM``-gram of bytes."""
        count = len(self.data) - CHAR_NGRAM + 1
        if count <= 0:
            return _EMPTY
        grams = np.ndarray((count,), dtype="<u4", buffer=self.data, strides=(1,))
        hashes = grams * _CHAR_MIX[0]
        hashes ^= hashes >> _MIX_SHIFT
        hashes *= _CHAR_MIX[1]
        hashes >>= _SHIFT
        return hashes

    def words(self, mix1: np.uint32, mix2: np.uint32) -> Indices:
        """Indices of the words (runs of ASCII letters and digits or non-ASCII bytes) and of
        each pair of consecutive words."""
        flags = np.frombuffer(self.classes, dtype=np.uint8) >= _LETTER
        edges = (flags[1:] ^ flags[:-1]).nonzero()[0]  # alternately a word's start and its end
        if not len(edges):
            return _EMPTY
        codes = np.frombuffer(self.data, dtype=np.uint8) * _POW[: len(self.data)]
        prefix = np.empty(len(codes) + 1, dtype=np.uint32)
        prefix[0] = 0
        np.cumsum(codes, dtype=np.uint32, out=prefix[1:])
        hashed = prefix[edges].reshape(-1, 2)
        words = (hashed[:, 1] - hashed[:, 0]) * _INV[edges[0::2]]
        out = np.empty(2 * len(words) - 1, dtype=np.uint32)
        np.multiply(words, mix1, out=out[: len(words)])
        pairs = out[len(words) :]
        np.multiply(words[:-1], _PAIR, out=pairs)
        pairs += words[1:]
        pairs *= mix2
        out >>= _SHIFT
        return out


def _bucket(value: float) -> int:
    """log2 buckets: 0, 1, 2-3, 4-7, ... (a measure becomes one of a handful of tokens)."""
    return int(value).bit_length() if value >= 1 else 0


def shape_tokens(request: ChatRequest, user: _Text, system_size: int) -> list[str]:
    """The shape measures of ``request`` as bucketed tokens (``name:bucket``)."""
    data = user.data
    per_mille = 1000 / max(user.size, 1)
    user_turns = sum(1 for m in request.messages if m.role == "user")
    fmt = request.response_format.type if request.response_format else "none"
    images = any(p.kind == "image" for m in request.messages for p in m.content)
    return [
        f"len:{_bucket(user.size / 16)}",
        f"syslen:{_bucket(system_size / 16)}",
        f"turns:{min(user_turns, 8)}",
        f"msgs:{_bucket(len(request.messages))}",
        f"fences:{min(data.count(_FENCE), 6)}",
        f"lines:{_bucket(data.count(_NEWLINE))}",
        f"digits:{_bucket(user.count(_DIGIT) * per_mille)}",
        f"maths:{_bucket(user.count(_MATHS) * per_mille)}",
        f"questions:{min(data.count(_QUESTION), 6)}",
        f"high:{_bucket(user.count(_HIGH) * per_mille)}",
        f"tools:{_bucket(len(request.tools))}",
        f"max_tokens:{_bucket((request.max_tokens or 0) / 64)}",
        f"format:{fmt}",
        f"effort:{request.effort() or 'none'}",
        f"images:{int(images)}",
    ]


@functools.lru_cache(maxsize=4096)
def _token_index(token: str) -> int:
    digest = hashlib.blake2b(token.encode(), digest_size=8, person=b"kr-shape").digest()
    return int.from_bytes(digest, "little") >> (64 - BITS)


def last_user_text(messages: tuple[Message, ...]) -> str:
    """The text of the last user turn (empty when there is none)."""
    for message in reversed(messages):
        if message.role == "user":
            return message.text()
    return ""


def _system(text: str) -> tuple[Indices, int]:
    """The system family's indices and the clipped size in bytes."""
    system = _Text.of(text, SYSTEM_BYTES, 0)
    indices = system.words(_SYS_MIX, _SYS2_MIX)
    indices.flags.writeable = False
    return indices, system.size


# An application sends the same system prompt with most of its requests.
_cached_system = functools.lru_cache(maxsize=256)(_system)
_CACHED_SYSTEM_CHARS = 8_192


def extract(request: ChatRequest) -> Features:
    """The features of ``request``: pure, and the same in every process and on every machine."""
    user = _Text.of(last_user_text(request.messages), HEAD_BYTES, TAIL_BYTES)
    text = request.system_text()
    system, system_size = (
        _cached_system(text) if len(text) <= _CACHED_SYSTEM_CHARS else _system(text)
    )
    shape = [_token_index(t) for t in shape_tokens(request, user, system_size)]
    return Features.of(
        (
            user.ngrams(),
            user.words(_WORD_MIX, _WORD2_MIX),
            system,
            np.array(shape, dtype=np.uint32),
        )
    )
