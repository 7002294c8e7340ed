"""Gemini explicit context caching (``cachedContents``), both directions.

- ``cache_prefix``: the leading part of a ``generateContent`` body that a cache can hold (system
  instruction, tools, tool config and the contents of the request's first ``messages``
  messages), with its digest: two requests whose prefixes have the same digest can share one
  cache, because Gemini would see the same bytes;
- ``encode_cache_create``: the ``POST /v1beta/cachedContents`` body for that prefix
  (``model``, ``systemInstruction``, ``tools``, ``toolConfig``, ``contents``, ``ttl``);
- ``decode_cache``: the created ``CachedContent`` -> its name, expiry and token count;
- ``use_cache``: a ``generateContent`` body with the prefix replaced by ``cachedContent``.
  Gemini refuses a request that names a cache and also sets ``systemInstruction``, ``tools``
  or ``toolConfig`` (400 ``INVALID_ARGUMENT``), so they leave the body with the cached contents.

A prefix covers the leading system messages and at most one further message (the first turn),
so its contents are the body's first 0 or 1 entries: ``encode_contents`` turns each non-tool
message into exactly one content, and a prefix never ends inside a run of tool results.

Pure: no I/O, no clock (the expiry is parsed, not compared).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final

import msgspec

from keyroute.core.chat import ChatRequest
from keyroute.core.context_cache import CachePrefix, CreatedCache
from keyroute.core.errors import UpstreamError

_PREFIX_FIELDS: Final = ("systemInstruction", "tools", "toolConfig")


class _UsageMetadata(msgspec.Struct, rename="camel"):
    total_token_count: int = 0


class _CachedContent(msgspec.Struct, rename="camel"):
    name: str
    expire_time: str
    usage_metadata: _UsageMetadata = msgspec.field(default_factory=_UsageMetadata)


def cache_prefix(req: ChatRequest, body: dict[str, Any], messages: int) -> CachePrefix | None:
    """The prefix of ``body`` (``req`` encoded) covering ``req.messages[:messages]``, or None
    when that part cannot be cached apart from the rest (a system message after it, a prefix
    that would leave no contents to send, a client's own ``cachedContent``)."""
    if "cachedContent" in body:
        return None
    leading = req.messages[:messages]
    if any(m.role in ("system", "developer") for m in req.messages[messages:]):
        return None  # Gemini has one system instruction: the cache would hold only part of it
    turns = [m for m in leading if m.role not in ("system", "developer")]
    if len(turns) > 1 or any(m.role == "tool" for m in turns):
        return None
    contents = len(turns)
    if contents >= len(body["contents"]):
        return None  # a request must send at least one content besides the cache
    part = _prefix(body, contents)
    if not part:
        return None
    raw = msgspec.json.encode(part, order="sorted")
    return CachePrefix(
        messages=messages,
        contents=contents,
        digest=hashlib.sha256(raw).hexdigest(),
        chars=len(raw),
    )


def encode_cache_create(
    body: dict[str, Any], prefix: CachePrefix, model: str, ttl_seconds: int
) -> dict[str, Any]:
    """The ``cachedContents.create`` body holding ``prefix`` of ``body`` for ``ttl_seconds``."""
    return {
        "model": f"models/{model.removeprefix('models/')}",
        **_prefix(body, prefix.contents),
        "ttl": f"{ttl_seconds}s",
    }


def use_cache(body: dict[str, Any], name: str, contents: int) -> dict[str, Any]:
    """``body`` sent through the cache ``name`` that holds its first ``contents`` contents and
    its system instruction, tools and tool config."""
    used = {k: v for k, v in body.items() if k not in _PREFIX_FIELDS}
    used["contents"] = body["contents"][contents:]
    used["cachedContent"] = name
    return used


def decode_cache(raw: bytes) -> CreatedCache:
    """A created ``CachedContent`` (Gemini's answer to ``cachedContents.create``).

    Raises:
        UpstreamError: The body is not a ``CachedContent`` with a name and an expiry.
    """
    try:
        cached = msgspec.json.decode(raw, type=_CachedContent)
        expires = datetime.fromisoformat(cached.expire_time.replace("Z", "+00:00"))
    except (msgspec.DecodeError, ValueError) as exc:
        raise UpstreamError(
            f"gemini sent a cachedContents answer keyroute cannot read: {exc}", provider="gemini"
        ) from None
    if not cached.name.startswith("cachedContents/") or expires.tzinfo is None:
        raise UpstreamError(
            "gemini sent a cachedContents answer without a cache name or a UTC expiry.",
            provider="gemini",
        )
    return CreatedCache(
        name=cached.name, expire_time=expires, tokens=cached.usage_metadata.total_token_count
    )


def _prefix(body: dict[str, Any], contents: int) -> dict[str, Any]:
    part: dict[str, Any] = {k: body[k] for k in _PREFIX_FIELDS if k in body}
    if contents:
        part["contents"] = body["contents"][:contents]
    return part
