"""The exact response cache's key, and whether a request may be answered from it (pure).

The key is a SHA-256 of the workspace id and the normalised canonical request: every field that
can change the answer (model, messages, tools, sampling, response format, the client's
pass-through fields and provider headers...), serialised with sorted keys and sets, so equal
requests give equal keys in any process. Left out: whether the client streams and asks for
stream usage (an answer is replayed in either shape), the client's wire format and the name it
gave ``max_tokens`` (an OpenAI and an Anthropic client asking the same thing share an answer),
and keyroute's own prompt-cache preparation (it runs later, per target).
"""

from __future__ import annotations

import hashlib

import msgspec

from keyroute.caching.breakpoints import amended
from keyroute.core.chat import ChatRequest

_VERSION = b"keyroute-response-cache-1\x00"


def deterministic(req: ChatRequest) -> bool:
    """Whether the request asks for a reproducible answer: temperature 0, or a seed.

    No temperature means the provider's default, which samples (1.0 for the major APIs)."""
    return req.seed is not None or req.temperature == 0


def response_cache_key(workspace_id: str, req: ChatRequest) -> str:
    normalised = amended(
        req,
        stream=False,
        include_usage=False,
        source_format="openai",
        max_tokens_name=None,
        prompt_cache_key=None,
    )
    body = msgspec.json.encode(normalised, order="deterministic")
    digest = hashlib.sha256(_VERSION + workspace_id.encode() + b"\x00" + body)
    return digest.hexdigest()
