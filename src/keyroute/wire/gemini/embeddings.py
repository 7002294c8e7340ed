"""Canonical embeddings <-> Gemini ``models/{model}:batchEmbedContents``.

One request per input text, in order: ``{"model": "models/<model>", "content": {"parts":
[{"text": ...}]}, "outputDimensionality": <dimensions>}``. Token-id inputs (an OpenAI-only
form, which LangChain's ``OpenAIEmbeddings`` sends by default) are refused by name: decoding them
would need the tokenizer the client chose, which the request does not name.
``encoding_format`` is not sent: Gemini always answers floats and base64 is the inbound layer's
business. ``user`` is dropped as for chat (an abuse-tracking id only).

Usage: Gemini's batch answer usually carries no token count. When it has ``usageMetadata``
its ``promptTokenCount`` is used; otherwise ``input_tokens`` is 0 (reported, not estimated:
an estimate would be billed as if measured).
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import InvalidRequest, UnsupportedFeature, UpstreamError
from keyroute.wire.gemini._schema import EmbeddingsResponseS


def model_resource(model: str) -> str:
    """The ``models/<model>`` resource name (a name already so prefixed is kept)."""
    return model if model.startswith("models/") else f"models/{model}"


def encode_embeddings_request(req: EmbeddingRequest, model: str) -> dict[str, Any]:
    """Build the body of a ``batchEmbedContents`` call.

    Args:
        req: The canonical embeddings request.
        model: The upstream model name, with or without the ``models/`` prefix.

    Raises:
        UnsupportedFeature: The request holds token-id inputs.
        InvalidRequest: The request holds no input.
    """
    if req.token_inputs:
        raise UnsupportedFeature(
            "input holds token ids, which gemini embeddings cannot take: gemini embeds text, and "
            "the ids cannot be turned back into text without the tokenizer the client used. Send "
            "text (LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False).",
            param="input",
        )
    if not req.inputs:
        raise InvalidRequest("input must hold at least one text.", param="input")
    resource = model_resource(model)
    requests: list[dict[str, Any]] = []
    for text in req.inputs:
        one: dict[str, Any] = {"model": resource, "content": {"parts": [{"text": text}]}}
        if req.dimensions is not None:
            one["outputDimensionality"] = req.dimensions
        requests.append(one)
    return {"requests": requests}


def decode_embeddings_response(body: bytes, model: str) -> EmbeddingResponse:
    """Decode a ``batchEmbedContents`` 200 body (vectors in request order).

    Args:
        body: The raw JSON body.
        model: The model name to report (Gemini's answer does not name it).

    Raises:
        UpstreamError: The body is not a batch embeddings answer.
    """
    try:
        raw = msgspec.json.decode(body, type=EmbeddingsResponseS)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamError(
            "gemini sent a body that is not a batchEmbedContents answer.", provider="gemini"
        ) from None
    usage = raw.usage_metadata
    return EmbeddingResponse(
        model=model,
        vectors=tuple(tuple(e.values) for e in raw.embeddings),
        input_tokens=usage.prompt_token_count if usage is not None else 0,
    )
