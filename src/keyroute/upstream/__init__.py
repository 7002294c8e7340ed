"""The one sender of requests to providers, and the transports it sends through.

``UpstreamSender`` (``sender.py``) applies every rule of an upstream call (timeouts, body
limits, refused redirects) and hands the bytes to the ``Transport`` mounted for the URL's
scheme (``transport.py``): ``AiohttpTransport`` for ``http(s)://``, ``DemoTransport`` (the
simulator) for ``demo://``, ``FunctionTransport`` (a callable answers) in tests.

**Invariant:** nothing else in keyroute talks to a provider; every call has explicit limits.
"""

from keyroute.upstream.sender import BodyLimits, UpstreamSender, UpstreamStream, default_mounts
from keyroute.upstream.transport import Transport, TransportResponse

__all__ = [
    "BodyLimits",
    "Transport",
    "TransportResponse",
    "UpstreamSender",
    "UpstreamStream",
    "default_mounts",
]
