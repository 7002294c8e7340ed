"""The OpenAI Responses API (``POST /v1/responses``): its own wire format, ``openai_responses``.

``request`` decodes bodies into a canonical ``ChatRequest`` (whose ``source_format`` keeps fields
keyroute does not map away from every other format's host), ``items`` converts input and output
items, ``response`` builds the ``Response`` object and ``stream`` the typed event sequence.
"""

from keyroute.wire.openai_responses.request import ResponsesRequest, decode_request, with_history
from keyroute.wire.openai_responses.response import encode_response
from keyroute.wire.openai_responses.stream import ResponsesStreamEncoder

__all__ = [
    "ResponsesRequest",
    "ResponsesStreamEncoder",
    "decode_request",
    "encode_response",
    "with_history",
]
