"""The Gemini ``generateContent`` wire format (Developer API, ``v1beta``), both directions.

Modules, one concept each:

- ``request``: ``ChatRequest`` -> ``generateContent`` body (``_contents``: the messages);
- ``response``: ``GenerateContentResponse`` -> ``ChatResponse`` (finish reasons, usage, ids);
- ``stream``: ``streamGenerateContent?alt=sse`` -> ``StreamEvent`` s (``GeminiStreamDecoder``);
- ``errors``: ``{"error": {code, message, status, details}}`` -> ``UpstreamError``;
- ``embeddings``: ``batchEmbedContents`` both ways;
- ``cache``: explicit context caches (``cachedContents``): the cacheable prefix, create, use;
- ``_schema``: typed msgspec structs of what Gemini sends.

Invariants: pure (no I/O, no clock); provider enums never leak into canonical values; a
``thoughtSignature`` crosses in both directions byte for byte.
"""

from keyroute.wire.gemini.cache import (
    cache_prefixes,
    decode_cache,
    encode_cache_create,
)
from keyroute.wire.gemini.embeddings import (
    decode_embeddings_response,
    encode_embeddings_request,
    model_resource,
)
from keyroute.wire.gemini.errors import decode_error
from keyroute.wire.gemini.request import encode_request
from keyroute.wire.gemini.response import decode_response, map_finish_reason
from keyroute.wire.gemini.stream import GeminiStreamDecoder

__all__ = [
    "cache_prefixes",
    "decode_cache",
    "encode_cache_create",
    "GeminiStreamDecoder",
    "decode_embeddings_response",
    "decode_error",
    "decode_response",
    "encode_embeddings_request",
    "encode_request",
    "map_finish_reason",
    "model_resource",
]
