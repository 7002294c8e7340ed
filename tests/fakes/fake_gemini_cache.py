"""Gemini explicit context caching (``cachedContents``), simulated by the fake Gemini API.

``ContextCacheSim`` is the fake's caching mode (``fake.contexts = ContextCacheSim()``): the fake
then serves ``POST /v1beta/cachedContents`` and answers ``generateContent`` and
``streamGenerateContent`` by itself, following the documented rules:

- a create needs ``model`` (``models/...``) and a ``ttl`` (``"300s"``) or ``expireTime``; what
  it caches is its ``systemInstruction``, ``tools``, ``toolConfig`` and ``contents``; below the
  model's minimum (``MIN_TOKENS``) it is a 400 ``INVALID_ARGUMENT``; the answer is the
  ``CachedContent`` (``name``, ``model``, times in RFC 3339, ``usageMetadata.totalTokenCount``);
- a request naming ``cachedContent`` must not set ``systemInstruction``, ``tools`` or
  ``toolConfig`` (400, Gemini's message); a cache that does not exist or has expired on
  ``clock`` is a 403 ``PERMISSION_DENIED`` ("CachedContent not found (or permission
  denied)"); a cache of another model is a 400;
- usage: ``promptTokenCount`` counts the cached tokens too, ``cachedContentTokenCount`` says
  how many came from the cache; no implicit caching is simulated (a request without a cache
  reads nothing).

Tokens are four characters of the JSON of what is counted. ``creates`` lists every cache
created, ``outcomes`` every answered request as ``(prompt tokens, cached tokens)``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MIN_TOKENS = {"gemini-3.5-flash": 4096, "gemini-3.1-pro-preview": 4096}
DEFAULT_MIN_TOKENS = 4096
_PREFIX = ("systemInstruction", "tools", "toolConfig")


class CacheError(Exception):
    """A request the real API refuses: ``status`` (HTTP), ``reason`` (``google.rpc`` status)."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass
class _Cache:
    model: str
    tokens: int
    expires: float


@dataclass
class ContextCacheSim:
    clock: Callable[[], float] = time.time
    caches: dict[str, _Cache] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[int, int]] = field(default_factory=list)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str) or not model.startswith("models/"):
            raise CacheError(400, "INVALID_ARGUMENT", "* CachedContent.model: must be models/*")
        now = self.clock()
        expires = _expiry(body, now)
        tokens = _tokens({k: body[k] for k in (*_PREFIX, "contents") if k in body})
        minimum = MIN_TOKENS.get(model.removeprefix("models/"), DEFAULT_MIN_TOKENS)
        if tokens < minimum:
            raise CacheError(
                400,
                "INVALID_ARGUMENT",
                f"Cached content is too small. total_token_count={tokens}, "
                f"min_total_token_count={minimum}",
            )
        name = f"cachedContents/c{len(self.creates) + 1:06d}"
        self.caches[name] = _Cache(model=model, tokens=tokens, expires=expires)
        self.creates.append(body)
        return {
            "name": name,
            "model": model,
            "createTime": _rfc3339(now),
            "updateTime": _rfc3339(now),
            "expireTime": _rfc3339(expires),
            "usageMetadata": {"totalTokenCount": tokens},
        }

    def answer(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """A ``GenerateContentResponse`` for ``body`` sent to ``model``."""
        name = body.get("cachedContent")
        cached = 0
        if name is not None:
            if any(k in body for k in _PREFIX):
                raise CacheError(
                    400,
                    "INVALID_ARGUMENT",
                    "Tool config, tools and system instruction should not be set in the "
                    "request when using cached content.",
                )
            cache = self.caches.get(str(name))
            if cache is None or cache.expires <= self.clock():
                raise CacheError(
                    403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)"
                )
            if cache.model != f"models/{model}":
                raise CacheError(
                    400,
                    "INVALID_ARGUMENT",
                    "Model used by GenerateContent and CachedContent differ.",
                )
            cached = cache.tokens
            prompt = cached + _tokens({"contents": body.get("contents", [])})
        else:
            prompt = _tokens({k: body[k] for k in (*_PREFIX, "contents") if k in body})
        self.outcomes.append((prompt, cached))
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": 3,
            "totalTokenCount": prompt + 3,
        }
        if cached:
            usage["cachedContentTokenCount"] = cached
        return {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": f"Answer {len(self.outcomes)}."}],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": f"resp-{len(self.outcomes)}",
        }


def _tokens(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"))) // 4


def _expiry(body: dict[str, Any], now: float) -> float:
    ttl = body.get("ttl")
    if isinstance(ttl, str) and ttl.endswith("s"):
        try:
            return now + float(ttl[:-1])
        except ValueError:
            pass
    expire = body.get("expireTime")
    if isinstance(expire, str):
        return datetime.fromisoformat(expire.replace("Z", "+00:00")).timestamp()
    if ttl is None and expire is None:
        return now + 3600.0  # Gemini's default lifetime
    raise CacheError(400, "INVALID_ARGUMENT", f"Invalid value for ttl: {ttl!r}")


def _rfc3339(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )
