"""Provider ``demo``: the simulated provider of a fresh install.

It is the OpenAI adapter pointed at ``demo://``; ``keyroute.upstream`` answers such URLs with
the in-process simulator in ``keyroute.upstream.demo``. Nothing about it is a real model, and
its model ids (``demo/...``) and answers (``[demo] ...``) say so. Its models, their
descriptions and their made-up prices are in the catalogue (``keyroute/catalogue/models.toml``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from keyroute.catalogue import builtin
from keyroute.providers.base import Capabilities
from keyroute.providers.openai import OpenAIProvider

DEMO_BASE_URL = "demo://simulated/v1"


@functools.cache
def demo_models() -> Mapping[str, str]:
    """``demo/<id>`` -> what the simulated model does, from the catalogue (read-only)."""
    return MappingProxyType(
        {m.ref: m.description for m in builtin().models if m.provider == "demo"}
    )


def demo_provider() -> OpenAIProvider:
    return OpenAIProvider(
        name="demo", capabilities=Capabilities(embeddings=False, requires_key=False)
    )
