"""OpenAI's ``GET /models`` answer -> model ids."""

from __future__ import annotations

import pytest

from keyroute.core.errors import UpstreamError
from keyroute.wire.openai.models import decode_models


def test_decode_models() -> None:
    body = b'{"object":"list","data":[{"id":"a","object":"model"},{"id":"b"}]}'
    assert decode_models(body, "vllm") == ["a", "b"]


@pytest.mark.parametrize("body", [b"", b"{}", b'{"data": [{"name": "x"}]}', b"[" * 10000])
def test_malformed_lists_are_upstream_errors(body: bytes) -> None:
    with pytest.raises(UpstreamError, match="vllm"):
        decode_models(body, "vllm")
