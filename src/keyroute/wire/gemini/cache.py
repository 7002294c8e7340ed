"""Gemini explicit context caching (``cachedContents``), both directions.

- ``cache_prefixes``: the leading parts of a ``generateContent`` body that a cache can hold
  (system instruction, tools, tool config, and the first turn's content), with their digests:
  two requests whose prefixes have the same digest can share one cache, because Gemini would
  see the same bytes;
- ``encode_cache_create``: the ``POST /v1beta/cachedContents`` body for that prefix
  (``model``, ``systemInstruction``, ``tools``, ``toolConfig``, ``contents``, ``ttl``);
- ``decode_cache``: the created ``CachedContent`` -> its name, expiry and token count;
- a request naming a cache (``ChatRequest.context_cache``) is encoded by
  ``keyroute.wire.gemini.request`` with the prefix replaced by ``cachedContent``. Gemini
  refuses a request that names a cache and also sets ``systemInstruction``, ``tools`` or
  ``toolConfig`` (400 ``INVALID_ARGUMENT``), so they leave the body with the cached contents.

A prefix covers the leading system messages and at most one further message (the first turn),
so its contents are the body's first 0 or 1 entries: ``encode_contents`` turns each non-tool
message into exactly one content, and a prefix never ends inside a run of tool results.

Pure: no I/O, no clock (the expiry is parsed, not compared).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

import msgspec

from keyroute.core.chat import ChatRequest
from keyroute.core.context_cache import CachePrefix, CreatedCache
from keyroute.core.errors import UpstreamError
from keyroute.wire.gemini.request import PREFIX_FIELDS as _PREFIX_FIELDS
from keyroute.wire.gemini.request import encode_request


class _UsageMetadata(msgspec.Struct, rename="camel"):
    total_token_count: int = 0


class _CachedContent(msgspec.Struct, rename="camel"):
    name: str
    expire_time: str
    usage_metadata: _UsageMetadata = msgspec.field(default_factory=_UsageMetadata)


def cache_prefixes(req: ChatRequest) -> tuple[CachePrefix, ...]:
    """The leading parts of ``req`` a cache can hold apart from the rest, longest first: the
    system instruction, tools and tool config with the first turn (when more follows), then
    without it. None when the request already names a cache, has a system message after its
    first turn (Gemini has one system instruction: a cache would hold only part of it), or
    nothing would be left to send.

    Only the leading messages are encoded (each turn encodes on its own), so the cost does not
    grow with the conversation; the digest covers the exact JSON Gemini would receive.
    """
    if req.context_cache is not None or (
        req.source_format == "gemini" and "cachedContent" in req.passthrough
    ):
        return ()
    messages = req.messages
    system = 0
    while system < len(messages) and messages[system].role in ("system", "developer"):
        system += 1
    if system == len(messages) or any(
        m.role in ("system", "developer") for m in messages[system + 1 :]
    ):
        return ()
    leading = encode_request(replace(req, messages=messages[: system + 1]))
    shared = {k: leading[k] for k in _PREFIX_FIELDS if k in leading}
    raw = msgspec.json.encode(shared) if shared else b""
    digest = hashlib.sha256(raw)
    found: list[CachePrefix] = []
    if messages[system].role != "tool" and len(messages) > system + 1:
        turn = msgspec.json.encode(leading["contents"][0])
        longer = digest.copy()
        longer.update(b"\x00" + turn)
        found.append(
            CachePrefix(
                messages=system + 1,
                contents=1,
                digest=longer.hexdigest(),
                chars=len(raw) + len(turn),
            )
        )
    if shared:
        found.append(
            CachePrefix(messages=system, contents=0, digest=digest.hexdigest(), chars=len(raw))
        )
    return tuple(found)


def encode_cache_create(
    body: dict[str, Any], prefix: CachePrefix, model: str, ttl_seconds: int
) -> dict[str, Any]:
    """The ``cachedContents.create`` body holding ``prefix`` of ``body`` for ``ttl_seconds``."""
    return {
        "model": f"models/{model.removeprefix('models/')}",
        **_prefix(body, prefix.contents),
        "ttl": f"{ttl_seconds}s",
    }


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
