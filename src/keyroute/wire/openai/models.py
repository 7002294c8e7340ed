"""OpenAI's model list (``GET /models``): the ids a host serves."""

from __future__ import annotations

import msgspec

from keyroute.core.errors import UpstreamError


class _Model(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_Model]


def decode_models(body: bytes, provider: str) -> list[str]:
    try:
        listing = msgspec.json.decode(body, type=_ModelList)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise UpstreamError(
            f"Provider '{provider}' sent a malformed model list: {exc}", provider=provider
        ) from None
    return [m.id for m in listing.data]
