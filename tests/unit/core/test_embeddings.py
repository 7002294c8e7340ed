"""``keyroute.core.embeddings``: the canonical embeddings request and response."""

from __future__ import annotations

from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse


def test_request_defaults() -> None:
    req = EmbeddingRequest(model="openai/text-embedding-3-small")
    assert (req.inputs, req.token_inputs, req.dimensions, req.encoding_format, req.user) == (
        (),
        (),
        None,
        "float",
        None,
    )


def test_values_compare_by_content() -> None:
    a = EmbeddingResponse(model="m", vectors=((0.5, 1.0),), input_tokens=2)
    assert a == EmbeddingResponse(model="m", vectors=((0.5, 1.0),), input_tokens=2)
    assert EmbeddingResponse(model="m", vectors=()).input_tokens == 0
    assert hash(a) == hash(EmbeddingResponse(model="m", vectors=((0.5, 1.0),), input_tokens=2))
