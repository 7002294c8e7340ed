"""A request's prompt-cache outcome, from its usage.

- ``hit``: part of the prompt was read from the provider's cache and nothing was written;
- ``partial``: part was read and the prompt's new tail was written for the next request (or
  an explicit cache was created and read by the same request);
- ``write``: nothing was read, the prefix was written (the first request of a prefix);
- ``miss``: nothing was read or written.

``response-hit`` (the answer came from keyroute's own response cache) is set by that cache.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from keyroute.core.response import Usage

CacheStatus: TypeAlias = Literal["hit", "partial", "miss", "write", "response-hit"]
HEADER = "x-keyroute-cache"


def cache_status(usage: Usage, *, created: bool = False) -> CacheStatus:
    """``created``: the request created an explicit provider cache (Gemini ``cachedContents``),
    a write its usage does not show."""
    written = created or usage.cache_write_tokens > 0
    if usage.cache_read_tokens > 0:
        return "partial" if written else "hit"
    return "write" if written else "miss"
