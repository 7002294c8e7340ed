"""Canonical embeddings request and response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbeddingRequest:
    """``inputs`` are texts; token-id inputs stay in ``token_inputs`` (OpenAI only)."""

    model: str
    inputs: tuple[str, ...] = ()
    token_inputs: tuple[tuple[int, ...], ...] = ()
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbeddingResponse:
    model: str
    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int = 0
