"""Feature extraction: determinism, the families, bounds on long prompts."""

from __future__ import annotations

import numpy as np

from keyroute.core.chat import ChatRequest, Message, ResponseFormat, TextPart, ToolSpec
from keyroute.router import features
from keyroute.router.features import (
    CHAR_NGRAM,
    FAMILIES,
    HEAD_BYTES,
    TABLE_SIZE,
    TAIL_BYTES,
    extract,
)


def _request(user: str, system: str | None = None, **kwargs: object) -> ChatRequest:
    messages = []
    if system is not None:
        messages.append(Message(role="system", content=(TextPart(text=system),)))
    messages.append(Message(role="user", content=(TextPart(text=user),)))
    return ChatRequest(model="auto", messages=tuple(messages), **kwargs)  # type: ignore[arg-type]


def _family(request: ChatRequest, name: str) -> list[int]:
    return [int(i) for i in extract(request).indices[FAMILIES.index(name)]]


def test_deterministic_and_in_range() -> None:
    request = _request("Prove that there are infinitely many primes.", system="Be terse.")
    first, second = extract(request), extract(request)
    for a, b in zip(first.indices, second.indices, strict=True):
        assert a.dtype == np.uint32
        assert a.tolist() == b.tolist()
        assert all(0 <= i < TABLE_SIZE for i in a.tolist())


def test_stable_across_processes_and_machines() -> None:
    # no Python hash(): these values must never change without bumping features.VERSION
    assert _family(_request("hello world"), "user_word") == STABLE_HELLO_WORLD


STABLE_HELLO_WORLD = [93413, 40627, 38915]


def test_words_and_bigrams() -> None:
    words = _family(_request("alpha beta alpha"), "user_word")
    assert len(words) == 3 + 2  # three words, two bigrams
    assert words[0] == words[2]  # the same word, the same index
    assert words[3] != words[4]  # "alpha beta" is not "beta alpha"


def test_ascii_case_and_punctuation_do_not_change_words() -> None:
    assert _family(_request("Hello, World!"), "user_word") == STABLE_HELLO_WORLD


def test_character_ngrams() -> None:
    n = CHAR_NGRAM
    assert len(_family(_request("abcdefgh"), "user_char")) == 8 - n + 1
    assert _family(_request("ab"), "user_char") == []
    # non-ASCII text counts in bytes, and lone surrogates do not break extraction
    assert len(_family(_request("é" * 4), "user_char")) == 8 - n + 1
    extract(_request("\ud800 broken"))


def test_long_prompts_keep_head_and_tail() -> None:
    n = CHAR_NGRAM
    long = "word " * 40_000
    assert len(_family(_request(long), "user_char")) == HEAD_BYTES + 1 + TAIL_BYTES - n + 1
    head = _family(_request("needle " + long), "user_word")
    tail = _family(_request(long + " needle"), "user_word")
    plain = _family(_request(long), "user_word")
    assert head != plain
    assert tail != plain


def test_system_family_and_last_user_turn() -> None:
    assert _family(_request("hi"), "system") == []
    assert len(_family(_request("hi", system="You are a poet"), "system")) == 4 + 3
    # a long system prompt is not cached, and gives what a short one would for its first bytes
    long = "You are a poet " + "x" * 20_000
    assert (
        _family(_request("hi", system=long), "system")[:4]
        == _family(_request("hi", system="You are a poet " + "x" * 3_000), "system")[:4]
    )
    request = ChatRequest(
        model="auto",
        messages=(
            Message(role="user", content=(TextPart(text="first question"),)),
            Message(role="assistant", content=(TextPart(text="an answer"),)),
            Message(role="user", content=(TextPart(text="second"),)),
        ),
    )
    assert len(_family(request, "user_word")) == 1
    assert features.last_user_text(request.messages) == "second"
    assert features.last_user_text(()) == ""


def test_shape_tokens_see_the_request() -> None:
    plain = _request("Write a haiku about autumn.")
    base = _family(plain, "shape")
    assert len(base) == len(set(base))
    assert _family(_request("Write a haiku about autumn.", max_tokens=4000), "shape") != base
    tool = ToolSpec(name="search", parameters={"type": "object"})
    assert _family(_request("Write a haiku about autumn.", tools=(tool,)), "shape") != base
    fmt = ResponseFormat(type="json_object")
    assert _family(_request("Write a haiku about autumn.", response_format=fmt), "shape") != base


def test_shape_buckets() -> None:
    user = features._Text.of("x = 3 + 4?\n```py\n```", 100, 0)
    tokens = features.shape_tokens(_request("unused"), user, 0)
    assert "fences:2" in tokens
    assert "questions:1" in tokens
    assert "lines:2" in tokens
    assert features._bucket(0) == 0
    assert features._bucket(1) == 1
    assert features._bucket(3) == 2
    assert features._bucket(4) == 3


def test_long_multibyte_prompts_are_clipped_in_bytes() -> None:
    n = CHAR_NGRAM
    assert len(_family(_request("é" * 100_000), "user_char")) == HEAD_BYTES + TAIL_BYTES + 1 - n + 1
    # the clip never splits what it keeps into something else: head and tail both survive
    text = "début " + "é" * 100_000 + " fin"
    words = _family(_request(text), "user_word")
    assert words[0] == _family(_request("début"), "user_word")[0]


def test_ngram_index_depends_only_on_the_bytes() -> None:
    first = _family(_request("abcd xyz abcd"), "user_char")
    assert first[0] == first[-1]  # "abcd" at two offsets (alignment does not matter)
    assert first[0] == _family(_request("ABCD"), "user_char")[0]  # ASCII case folded
    assert len(set(first)) == len(first) - 1


def test_joined_indices_and_bounds_agree() -> None:
    feats = extract(_request("Two words", system="Be brief."))
    assert len(feats.indices) == len(FAMILIES)
    assert np.concatenate(feats.indices).tolist() == feats.joined.tolist()
    assert feats.counts == tuple(len(i) for i in feats.indices)
    assert sum(feats.counts) == len(feats.joined) == feats.bounds[-1]
