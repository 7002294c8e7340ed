"""Explicit provider context caches (Gemini ``cachedContents``): the values that cross layers.

A ``CachePrefix`` is a request's leading part that a provider can store as a named cache (its
digest names the exact bytes the provider would see); a ``CreatedCache`` is what the provider
answered when keyroute created one. ``core.chat.ContextCacheRef`` puts a created cache on a
request. ``keyroute.caching.explicit`` decides when a cache pays for its storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePrefix:
    """A request's cacheable leading part: its first ``messages`` canonical messages (plus
    tools and tool config), ``contents`` entries of the provider's body, ``digest`` of its
    exact JSON, ``chars`` its size in bytes (for a token estimate before the provider counts)."""

    messages: int
    contents: int
    digest: str
    chars: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedCache:
    """A cache the provider created: its ``name``, when it expires (UTC), its token count."""

    name: str
    expire_time: datetime
    tokens: int
