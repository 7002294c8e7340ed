"""Provider ``demo``: the simulated provider of a fresh install.

It is the OpenAI adapter pointed at ``demo://``; ``keyroute.upstream`` answers such URLs with the
in-process simulator in ``keyroute.demo``. Nothing about it is a real model, and its model ids
(``demo/...``) and answers (``[demo] ...``) say so.
"""

from __future__ import annotations

from keyroute.providers.base import Capabilities
from keyroute.providers.openai import OpenAIProvider

DEMO_BASE_URL = "demo://simulated/v1"

DEMO_MODELS: dict[str, str] = {
    "demo/echo": "repeats the last user message back",
    "demo/fast": "short deterministic answers",
    "demo/smart": "longer deterministic answers",
}


def demo_provider() -> OpenAIProvider:
    return OpenAIProvider(
        name="demo", capabilities=Capabilities(embeddings=False, requires_key=False)
    )
