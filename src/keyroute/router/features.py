"""Request features for the difficulty scorer: hashed n-grams and shape tokens, vectorised.

A request becomes a few *feature families*, each an array of indices into one shared weight table
of ``TABLE_SIZE`` entries: the model's logit is ``bias + sum(scale_f * sum(weights[indices_f]))``
where ``scale_f`` depends only on the family's size (see ``model.py``). The same function feeds
training (the indices become a sparse matrix) and scoring (a gather and a sum), so the two
cannot drift apart.

Families:
- ``user_char``: character n-grams (``CHAR_NGRAMS``) of the last user turn;
- ``user_word``: its words and word bigrams;
- ``system``: words and word bigrams of the system and developer messages;
- ``shape``: one token per bucketed shape measure (length, turns, code fences, digits, maths
  symbols, lines, questions, tools, requested output size, output format, effort, images).

Text is read as UTF-8 bytes, ASCII letters lower-cased. Hashing is polynomial modulo 2**32
(numpy's wrapping ``uint32`` arithmetic) over prefix sums: the hash of ``data[i:j]`` is
``(prefix[j] - prefix[i]) * BASE**-i``, so every n-gram and every word of a 10,000-character
prompt is hashed by a handful of array operations, without a Python loop per character or word.
An index is the top ``BITS`` bits of the hash times a per-family odd constant. Long turns keep
their head and tail (``HEAD_BYTES`` + ``TAIL_BYTES``), so the cost is bounded whatever the size.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keyroute.core.chat import ChatRequest, Message

BITS = 18
TABLE_SIZE = 1 << BITS
CHAR_NGRAMS = (4,)
HEAD_BYTES = 4_096
TAIL_BYTES = 2_048
SYSTEM_BYTES = 4_096
FAMILIES = ("user_char", "user_word", "system", "shape")
VERSION = 2
"""Bump whenever the mapping from a request to indices changes: a model trained on another
version's indices is refused by the loader."""

Indices = npt.NDArray[np.uint32]
_U32 = np.uint32
_MOD = 1 << 32
_BASE = 0x9E3779B1  # odd, so invertible modulo 2**32
_SHIFT = _U32(32 - BITS)
_PAIR = _U32(0x85EBCA6B)
_FAMILY_MIX = {
    "char3": 0xC2B2AE35,
    "char4": 0x27D4EB2F,
    "char5": 0x165667B1,
    "word": 0xD3A2646D,
    "word2": 0xFD7046C5,
    "sys": 0xB55A4F09,
    "sys2": 0x8F1BBCDD,
}


def _powers(base: int, count: int) -> npt.NDArray[np.uint32]:
    out = np.empty(count, dtype=np.uint32)
    value = 1
    for i in range(count):
        out[i] = value
        value = (value * base) % _MOD
    return out


_MAX_BYTES = HEAD_BYTES + TAIL_BYTES + 1
_POW = _powers(_BASE, _MAX_BYTES)
_INV = _powers(pow(_BASE, -1, _MOD), _MAX_BYTES)
# BASE**-i times each n-gram family's constant: one multiplication gives the mixed hash.
_INV_MIX = {n: _INV * _U32(_FAMILY_MIX[f"char{n}"]) for n in (3, 4, 5)}


@dataclass(frozen=True, slots=True)
class Features:
    """The indices of each family (into a table of ``TABLE_SIZE``), in ``FAMILIES`` order."""

    indices: tuple[Indices, ...]

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(len(i) for i in self.indices)


# Byte classes: what a word is made of, and the shape counters read in one pass.
_OTHER, _LETTER, _DIGIT, _MATHS, _NEWLINE, _QUESTION, _BACKTICK, _HIGH = range(8)


def _tables() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
    lower = np.arange(256, dtype=np.uint32)
    lower[ord("A") : ord("Z") + 1] += 32
    classes = np.full(256, _OTHER, dtype=np.uint8)
    classes[ord("a") : ord("z") + 1] = _LETTER
    classes[ord("A") : ord("Z") + 1] = _LETTER
    classes[ord("0") : ord("9") + 1] = _DIGIT
    for char in "=+*/^<>%\\":
        classes[ord(char)] = _MATHS
    classes[ord("\n")] = _NEWLINE
    classes[ord("?")] = _QUESTION
    classes[ord("`")] = _BACKTICK
    classes[128:] = _HIGH
    word = np.isin(classes, (_LETTER, _DIGIT, _HIGH)).astype(np.int8)
    return lower, classes, word


_LOWER, _CLASS, _WORD = _tables()
_WORD_BYTES = _WORD.astype(np.uint8).tobytes()  # a bytes.translate table: 1 in a word, else 0
_EMPTY: Indices = np.empty(0, dtype=np.uint32)


def _clip(data: bytes, head: int, tail: int) -> bytes:
    if len(data) <= head + tail:
        return data
    return data[:head] + b"\n" + data[len(data) - tail :] if tail else data[:head]


@dataclass(frozen=True, slots=True)
class _Text:
    """One text as bytes: its raw bytes, the prefix hashes of the lower-cased bytes."""

    data: bytes
    raw: npt.NDArray[np.uint8]
    prefix: npt.NDArray[np.uint32]

    @classmethod
    def of(cls, text: str, head: int, tail: int) -> _Text:
        data = _clip(text.encode("utf-8", "replace"), head, tail)
        raw = np.frombuffer(data, dtype=np.uint8)
        codes = _LOWER[raw]
        np.multiply(codes, _POW[: len(raw)], out=codes)
        prefix = np.zeros(len(raw) + 1, dtype=np.uint32)
        np.cumsum(codes, out=prefix[1:])
        return cls(data, raw, prefix)

    @property
    def size(self) -> int:
        return len(self.raw)

    def ngrams(self, n: int) -> Indices:
        """Indices of every n-gram of bytes."""
        count = len(self.raw) - n + 1
        if count <= 0:
            return _EMPTY
        hashes = (self.prefix[n:] - self.prefix[:count]) * _INV_MIX[n][:count]
        return hashes >> _SHIFT

    def words(self, mix1: str, mix2: str) -> Indices:
        """Indices of the words (runs of ASCII letters and digits or non-ASCII bytes) and of
        each pair of consecutive words."""
        flags = np.frombuffer(b"\0" + self.data.translate(_WORD_BYTES) + b"\0", dtype=np.int8)
        edges = np.flatnonzero(np.diff(flags))  # alternately a word's start and its end
        starts = edges[0::2]
        ends = edges[1::2]
        words = (self.prefix[ends] - self.prefix[starts]) * _INV[starts]
        pairs = words[:-1] * _PAIR + words[1:]
        return np.concatenate(
            (
                (words * _U32(_FAMILY_MIX[mix1])) >> _SHIFT,
                (pairs * _U32(_FAMILY_MIX[mix2])) >> _SHIFT,
            )
        )

    def class_counts(self) -> list[int]:
        histogram = np.bincount(self.raw, minlength=256)
        return [int(c) for c in np.bincount(_CLASS, weights=histogram, minlength=8)]


def _bucket(value: float) -> int:
    """log2 buckets: 0, 1, 2-3, 4-7, ... (a measure becomes one of a handful of tokens)."""
    return 0 if value < 1 else int(math.log2(value)) + 1


def shape_tokens(request: ChatRequest, user: _Text, system_size: int) -> list[str]:
    """The shape measures of ``request`` as bucketed tokens (``name:bucket``)."""
    counts = user.class_counts()
    size = max(user.size, 1)
    user_turns = sum(1 for m in request.messages if m.role == "user")
    fmt = request.response_format.type if request.response_format else "none"
    images = any(p.kind == "image" for m in request.messages for p in m.content)
    return [
        f"len:{_bucket(user.size / 16)}",
        f"syslen:{_bucket(system_size / 16)}",
        f"turns:{min(user_turns, 8)}",
        f"msgs:{_bucket(len(request.messages))}",
        f"fences:{min(counts[_BACKTICK] // 3, 6)}",
        f"lines:{_bucket(counts[_NEWLINE])}",
        f"digits:{_bucket(1000 * counts[_DIGIT] / size)}",
        f"maths:{_bucket(1000 * counts[_MATHS] / size)}",
        f"questions:{min(counts[_QUESTION], 6)}",
        f"high:{_bucket(1000 * counts[_HIGH] / size)}",
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
    indices = system.words("sys", "sys2")
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
    chars = [user.ngrams(n) for n in CHAR_NGRAMS]
    shape = [_token_index(t) for t in shape_tokens(request, user, system_size)]
    indices = (
        chars[0] if len(chars) == 1 else np.concatenate(chars),
        user.words("word", "word2"),
        system,
        np.array(shape, dtype=np.uint32),
    )
    return Features(indices=indices)
