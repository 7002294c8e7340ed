"""``PromptCaching``: the prompt-cache preparation stage, a pure request transform per target.

What it does depends on how the target's API caches (``Capabilities.prompt_cache``), never on a
provider's name:

- ``breakpoints`` (Anthropic): places breakpoints (``caching.breakpoints``) with the model's
  minimum cacheable length from the catalogue and the workspace's lifetime;
- ``key`` (OpenAI): sets a ``prompt_cache_key`` that is the same for every request of the
  workspace sharing tools, system prompt and first turn (one conversation, or one prompt
  template asked the same question), so they reach the same cache; a client's own key wins;
- ``implicit`` (Gemini) and ``none``: nothing to add; keyroute's codecs already keep every
  prefix byte-identical across requests.

A workspace with ``prompt_cache = "off"`` gets only what its clients asked for. The stage reads
the workspace's settings from its in-memory ``WorkspaceState``: no I/O.
"""

from __future__ import annotations

import hashlib
import json

from keyroute.caching.breakpoints import amended, place_breakpoints
from keyroute.catalogue import Catalogue
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.storage.base import CachingSettingsRecord

DEFAULT_MIN_TOKENS = 1024
"""The minimum cacheable prefix assumed for a model the catalogue does not describe."""

_KEY_PREFIX = "kr-"


class PromptCaching:
    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def prepare(
        self,
        req: ChatRequest,
        *,
        style: str,
        provider: str,
        model: str,
        workspace_id: str,
        settings: CachingSettingsRecord,
    ) -> ChatRequest:
        """``req`` as sent to ``provider``/``model``, whose API caches in ``style``."""
        if settings.prompt_cache == "off":
            return req
        if style == "breakpoints":
            entry = self._catalogue.get(provider, model)
            if entry is not None and not entry.capabilities.prompt_caching:
                return req
            minimum = entry.capabilities.min_cacheable_tokens if entry is not None else None
            return place_breakpoints(
                req, min_tokens=minimum or DEFAULT_MIN_TOKENS, ttl=settings.prompt_cache_ttl
            )
        if style == "key" and "prompt_cache_key" not in req.passthrough:
            return amended(req, prompt_cache_key=prompt_cache_key(workspace_id, req))
        return req


def prompt_cache_key(workspace_id: str, req: ChatRequest) -> str:
    """A key naming the workspace and the request's stable prefix: tools, system prompt and the
    first turn after it. Deterministic across processes and restarts."""
    digest = hashlib.sha256(workspace_id.encode())
    for tool in req.tools:
        digest.update(b"\x00tool\x00")
        digest.update(tool.name.encode())
        digest.update((tool.description or "").encode())
        digest.update(json.dumps(tool.parameters, sort_keys=True).encode())
    first_turn_seen = False
    for message in req.messages:
        if message.role not in ("system", "developer"):
            if first_turn_seen:
                break
            first_turn_seen = True
        digest.update(b"\x00" + message.role.encode() + b"\x00")
        digest.update(_text(message).encode())
    return _KEY_PREFIX + digest.hexdigest()[:40]


def _text(message: Message) -> str:
    return "".join(p.text for p in message.content if isinstance(p, TextPart))
