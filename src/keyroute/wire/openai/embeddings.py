"""OpenAI embeddings: client and upstream bodies <-> ``EmbeddingRequest``, ``EmbeddingResponse``."""

from __future__ import annotations

import base64
import struct
from typing import Any

import msgspec

from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import InvalidRequest, UpstreamError
from keyroute.wire import json_budget


class _EmbeddingsRequestS(msgspec.Struct, forbid_unknown_fields=True):
    model: str
    input: str | list[str | int | list[int]]
    dimensions: int | None = None
    encoding_format: str | None = None
    user: str | None = None


def decode_embeddings_request(body: bytes) -> EmbeddingRequest:
    json_budget.check(body, json_budget.MAX_EMBEDDING_VALUES, ("input",))
    try:
        r = msgspec.json.decode(body, type=_EmbeddingsRequestS)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        text = str(exc)
        param = text.split("`$.", 1)[1].rstrip("`") if "`$." in text else None
        if param is None and "missing required field `" in text:
            param = text.split("missing required field `", 1)[1].split("`", 1)[0]
        raise InvalidRequest(f"Invalid request: {text}", param=param) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if r.encoding_format not in (None, "float", "base64"):
        raise InvalidRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    if r.dimensions is not None and r.dimensions < 1:
        raise InvalidRequest("'dimensions' must be at least 1.", param="dimensions")
    texts, tokens = _inputs(r.input)
    if not texts and not tokens:
        raise InvalidRequest("'input' must not be empty.", param="input")
    return EmbeddingRequest(
        model=r.model,
        inputs=texts,
        token_inputs=tokens,
        dimensions=r.dimensions,
        encoding_format="base64" if r.encoding_format == "base64" else "float",
        user=r.user,
    )


def _inputs(
    value: str | list[str | int | list[int]],
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """Texts, or token-id lists; a mix of kinds is refused."""
    if isinstance(value, str):
        return (value,), ()
    if all(isinstance(v, str) for v in value):
        return tuple(v for v in value if isinstance(v, str)), ()
    if all(isinstance(v, int) for v in value):
        return (), (tuple(v for v in value if isinstance(v, int)),)
    if all(isinstance(v, list) for v in value):
        return (), tuple(tuple(v) for v in value if isinstance(v, list))
    raise InvalidRequest(
        "'input' must be a string, a list of strings, a list of token ids, or a list of "
        "token-id lists.",
        param="input",
    )


def encode_embeddings_request(req: EmbeddingRequest, model: str) -> dict[str, Any]:
    """The upstream body. Vectors are always requested as floats (keyroute re-encodes)."""
    body: dict[str, Any] = {"model": model, "encoding_format": "float"}
    if req.token_inputs:
        body["input"] = [list(t) for t in req.token_inputs]
    else:
        body["input"] = list(req.inputs)
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return body


class _Item(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0


class _Response(msgspec.Struct):
    data: list[_Item]
    model: str = ""
    usage: _Usage | None = None


def decode_embeddings_response(body: bytes, provider: str) -> EmbeddingResponse:
    try:
        r = msgspec.json.decode(body, type=_Response)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamError(
            f"Provider '{provider}' sent a malformed embeddings response: {exc}", provider=provider
        ) from None
    items = sorted(r.data, key=lambda i: i.index)
    return EmbeddingResponse(
        model=r.model,
        vectors=tuple(tuple(i.embedding) for i in items),
        input_tokens=r.usage.prompt_tokens if r.usage else 0,
    )


def encode_embeddings_response(
    resp: EmbeddingResponse, *, model: str, encoding_format: str
) -> bytes:
    data = []
    for index, vector in enumerate(resp.vectors):
        value: Any = list(vector)
        if encoding_format == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    body = {
        "object": "list",
        "model": model,
        "data": data,
        "usage": {"prompt_tokens": resp.input_tokens, "total_tokens": resp.input_tokens},
    }
    return msgspec.json.encode(body)
