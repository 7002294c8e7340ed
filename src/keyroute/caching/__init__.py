"""Caching: provider prompt caching prepared by keyroute, how a request used the cache, the
cache-aware routing hook, and the exact response cache.

- ``breakpoints.py``: automatic Anthropic ``cache_control`` breakpoints (pure);
- ``prompt.py``: ``PromptCaching``, the per-target prompt-cache preparation stage (pure);
- ``status.py``: a request's cache outcome (``hit``, ``partial``, ``miss``, ``write``) from its
  usage, for the ``x-keyroute-cache`` header and the request record;
- ``warmth.py``: the warm-prefix tracker and the expected cache discount a router prices in;
- ``response_key.py`` and ``response_cache.py``: the exact response cache (opt-in per workspace).

Invariant: nothing here does I/O on the request path; settings come from ``WorkspaceState``.
"""
