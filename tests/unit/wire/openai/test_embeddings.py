"""``keyroute.wire.openai.embeddings``: embeddings requests and responses, both directions."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest

from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import InvalidRequest, UpstreamError
from keyroute.wire.openai.embeddings import (
    decode_embeddings_request,
    decode_embeddings_response,
    encode_embeddings_request,
    encode_embeddings_response,
)

MODEL = "openai/text-embedding-3-small"


def body(**fields: Any) -> bytes:
    return json.dumps({"model": MODEL, "input": "hello", **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (body(), EmbeddingRequest(model=MODEL, inputs=("hello",))),
        (body(input=["a", "b"]), EmbeddingRequest(model=MODEL, inputs=("a", "b"))),
        (body(input=[1, 2, 3]), EmbeddingRequest(model=MODEL, token_inputs=((1, 2, 3),))),
        (body(input=[[1, 2], [3]]), EmbeddingRequest(model=MODEL, token_inputs=((1, 2), (3,)))),
        (body(input=""), EmbeddingRequest(model=MODEL, inputs=("",))),
        (
            body(dimensions=256, user="u"),
            EmbeddingRequest(model=MODEL, inputs=("hello",), dimensions=256, user="u"),
        ),
        (body(encoding_format="float"), EmbeddingRequest(model=MODEL, inputs=("hello",))),
        (
            body(encoding_format="base64"),
            EmbeddingRequest(model=MODEL, inputs=("hello",), encoding_format="base64"),
        ),
        (body(encoding_format=None), EmbeddingRequest(model=MODEL, inputs=("hello",))),
    ],
)
def test_decode_request(raw: bytes, expected: EmbeddingRequest) -> None:
    assert decode_embeddings_request(raw) == expected


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"nope", None),
        (b"", None),
        (json.dumps({"input": "x"}).encode(), "model"),
        (body(extra=True), None),
        (body(input=[]), "input"),
        (body(input=["a", 1]), "input"),
        (body(input=[[1], "a"]), "input"),
        (body(input=[1, [2]]), "input"),
        (body(encoding_format="int8"), "encoding_format"),
        (body(dimensions=0), "dimensions"),
        (body(dimensions=-1), "dimensions"),
    ],
)
def test_decode_request_errors(raw: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_embeddings_request(raw)
    assert info.value.param == param


# msgspec.ValidationError subclasses msgspec.DecodeError, so the first ``except`` clause of
# decode_embeddings_request catches schema errors too.
@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (body(input=5), "input"),
        (body(dimensions="big"), "dimensions"),
        (body(model=["m"]), "model"),
        (json.dumps({"input": "x"}).encode(), "model"),  # missing fields are named too
        (json.dumps({"model": "m"}).encode(), "input"),
    ],
)
def test_wrongly_typed_fields_name_their_param(raw: bytes, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_embeddings_request(raw)
    assert info.value.param == param
    assert "not valid JSON" not in info.value.message


@pytest.mark.parametrize("raw", [json.dumps({"input": "x"}).encode(), body(extra=True)])
def test_schema_errors_are_not_called_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_embeddings_request(raw)
    assert "not valid JSON" not in info.value.message


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (
            EmbeddingRequest(model=MODEL, inputs=("a",)),
            {"model": "m", "encoding_format": "float", "input": ["a"]},
        ),
        (
            EmbeddingRequest(model=MODEL, inputs=("a",), encoding_format="base64"),
            {"model": "m", "encoding_format": "float", "input": ["a"]},
        ),
        (
            EmbeddingRequest(model=MODEL, token_inputs=((1, 2), (3,)), dimensions=8, user="u"),
            {
                "model": "m",
                "encoding_format": "float",
                "input": [[1, 2], [3]],
                "dimensions": 8,
                "user": "u",
            },
        ),
    ],
)
def test_encode_request(req: EmbeddingRequest, expected: dict[str, Any]) -> None:
    assert encode_embeddings_request(req, "m") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {
                "object": "list",
                "model": "text-embedding-3-small",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            },
            EmbeddingResponse(
                model="text-embedding-3-small", vectors=((0.5, -1.0),), input_tokens=3
            ),
        ),
        # out-of-order items are put back in input order
        (
            {"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]},
            EmbeddingResponse(model="", vectors=((1.0,), (2.0,))),
        ),
        ({"data": []}, EmbeddingResponse(model="", vectors=())),
    ],
)
def test_decode_response(raw: dict[str, Any], expected: EmbeddingResponse) -> None:
    assert decode_embeddings_response(json.dumps(raw).encode(), "openai") == expected


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"data": [{"embedding": "AAAA"}]}', b"[]"])
def test_decode_response_malformed(raw: bytes) -> None:
    with pytest.raises(UpstreamError, match="mistral"):
        decode_embeddings_response(raw, "mistral")


RESPONSE = EmbeddingResponse(model="up", vectors=((0.5, -1.25), (2.0, 0.0)), input_tokens=4)


def test_encode_response_float() -> None:
    out = json.loads(encode_embeddings_response(RESPONSE, model=MODEL, encoding_format="float"))
    assert out == {
        "object": "list",
        "model": MODEL,
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -1.25]},
            {"object": "embedding", "index": 1, "embedding": [2.0, 0.0]},
        ],
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }


def test_encode_response_base64_is_little_endian_float32() -> None:
    out = json.loads(encode_embeddings_response(RESPONSE, model=MODEL, encoding_format="base64"))
    vectors = [
        struct.unpack(f"<{len(raw) // 4}f", raw)
        for raw in (base64.b64decode(item["embedding"]) for item in out["data"])
    ]
    assert vectors == [(0.5, -1.25), (2.0, 0.0)]


def test_sdk_accepts_the_encoded_response() -> None:
    from openai.types import CreateEmbeddingResponse

    raw = encode_embeddings_response(RESPONSE, model=MODEL, encoding_format="float")
    parsed = CreateEmbeddingResponse.model_validate_json(raw)
    assert [d.embedding for d in parsed.data] == [[0.5, -1.25], [2.0, 0.0]]
