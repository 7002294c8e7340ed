"""``keyroute.wire.gemini.embeddings``: batchEmbedContents both ways."""

from __future__ import annotations

import pytest

from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import InvalidRequest, UnsupportedFeature, UpstreamError
from keyroute.wire.gemini import (
    decode_embeddings_response,
    encode_embeddings_request,
    model_resource,
)


def check(req: EmbeddingRequest, model: str, expected: dict[str, object]) -> None:
    assert encode_embeddings_request(req, model) == expected


def one(
    text: str, model: str = "models/gemini-embedding-001", **extra: object
) -> dict[str, object]:
    return {"model": model, "content": {"parts": [{"text": text}]}, **extra}


@pytest.mark.parametrize(
    ("req", "model", "expected"),
    [
        (
            EmbeddingRequest(model="e", inputs=("a",)),
            "gemini-embedding-001",
            {"requests": [one("a")]},
        ),
        (
            EmbeddingRequest(model="e", inputs=("a", "b"), dimensions=256),
            "models/gemini-embedding-001",
            {"requests": [one("a", outputDimensionality=256), one("b", outputDimensionality=256)]},
        ),
        (
            EmbeddingRequest(model="e", inputs=("a",), user="u1", encoding_format="base64"),
            "gemini-embedding-001",
            {"requests": [one("a")]},
        ),
    ],
)
def test_encode(req, model, expected):
    check(req, model, expected)


@pytest.mark.parametrize(
    ("req", "error"),
    [
        (EmbeddingRequest(model="e", token_inputs=((1, 2),)), UnsupportedFeature),
        (EmbeddingRequest(model="e", inputs=("a",), token_inputs=((1,),)), UnsupportedFeature),
        (EmbeddingRequest(model="e"), InvalidRequest),
    ],
)
def test_encode_errors(req, error):
    with pytest.raises(error) as info:
        encode_embeddings_request(req, "m")
    assert info.value.param == "input"


@pytest.mark.parametrize(
    ("body", "vectors", "tokens"),
    [
        (
            b'{"embeddings": [{"values": [0.1, -0.2]}, {"values": [1, 2]}]}',
            ((0.1, -0.2), (1.0, 2.0)),
            0,
        ),
        (
            b'{"embeddings": [{"values": [0.5]}], "usageMetadata": {"promptTokenCount": 4}}',
            ((0.5,),),
            4,
        ),
        (b"{}", (), 0),
    ],
)
def test_decode(body, vectors, tokens):
    response = decode_embeddings_response(body, "gemini-embedding-001")
    assert response.vectors == vectors
    assert response.input_tokens == tokens
    assert response.model == "gemini-embedding-001"


@pytest.mark.parametrize("body", [b"nope", b'{"embeddings": [{"values": ["x"]}]}', b"[]"])
def test_decode_errors(body):
    with pytest.raises(UpstreamError):
        decode_embeddings_response(body, "m")


@pytest.mark.parametrize(("model", "expected"), [("e", "models/e"), ("models/e", "models/e")])
def test_model_resource(model, expected):
    assert model_resource(model) == expected
