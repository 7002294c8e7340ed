"""The Anthropic Messages wire format, both directions.

Outbound (``providers.anthropic``): ``encode_request`` builds the upstream body;
``decode_response``, ``AnthropicStreamDecoder`` and ``decode_error`` read what Anthropic answers.

Inbound (our ``POST /v1/messages``): ``decode_request`` reads a client's body;
``encode_response``, ``AnthropicStreamEncoder``, ``encode_error`` and ``encode_stream_error``
answer in Anthropic's shape.

Modules: ``schema`` (msgspec wire types), ``request`` (outbound body), ``inbound`` (client body),
``response`` (Message, stop reasons, usage), ``stream_decoder``, ``stream_encoder``, ``errors``.
Everything here is pure: no sockets, no clocks.
"""

from keyroute.wire.anthropic.errors import (
    decode_error,
    encode_error,
    encode_stream_error,
    error_from_event,
)
from keyroute.wire.anthropic.inbound import decode_request
from keyroute.wire.anthropic.request import encode_request
from keyroute.wire.anthropic.response import decode_response, encode_response
from keyroute.wire.anthropic.stream_decoder import AnthropicStreamDecoder
from keyroute.wire.anthropic.stream_encoder import AnthropicStreamEncoder

__all__ = [
    "AnthropicStreamDecoder",
    "AnthropicStreamEncoder",
    "decode_error",
    "decode_request",
    "decode_response",
    "encode_error",
    "encode_request",
    "encode_response",
    "encode_stream_error",
    "error_from_event",
]
