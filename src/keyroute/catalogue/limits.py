"""A model's limits applied to a request: pure functions the pipeline calls once it has routed.

``lower_output_limit``: a client may ask for more output than the model can write (Claude Code
asks for 128,000 tokens, whatever the model); the request is then sent with the model's maximum
from the catalogue, and the pipeline says so in the ``x-keyroute-max-tokens-lowered`` response
header, instead of letting the provider refuse it. A model the catalogue does not know, or a
request without a limit, is left as it is.
"""

from __future__ import annotations

from dataclasses import replace

from keyroute.core.chat import ChatRequest


def lower_output_limit(req: ChatRequest, maximum: int | None) -> ChatRequest:
    """``req`` with ``max_tokens`` lowered to ``maximum`` when above it; else ``req`` itself."""
    if maximum is None or req.max_tokens is None or req.max_tokens <= maximum:
        return req
    return replace(req, max_tokens=maximum)
