"""The request lifecycle: ``Pipeline.run(ctx, operation, meter)`` and what it sequences.

``lifecycle.py`` is the lifecycle itself; ``operations.py`` the kinds of request; ``meter.py``
fills the request record and hands it to its sinks once; ``context.py`` the per-request state;
``decoding.py`` an open upstream stream as canonical events; ``listing.py`` the models a
workspace can reach. The HTTP layer builds an operation, calls ``run`` and renders the result.
"""

from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.lifecycle import ModelList, Pipeline
from keyroute.pipeline.meter import Meter, MeteredStream, Pricer
from keyroute.pipeline.operations import (
    Chat,
    ChatStream,
    CountTokens,
    Embed,
    Estimate,
    ListModels,
    TokenCount,
    WholeOperation,
)

__all__ = [
    "Chat",
    "ChatStream",
    "CountTokens",
    "Embed",
    "Estimate",
    "ListModels",
    "Meter",
    "MeteredStream",
    "ModelList",
    "Pipeline",
    "Pricer",
    "RequestContext",
    "TokenCount",
    "WholeOperation",
]
