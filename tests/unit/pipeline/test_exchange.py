"""``keyroute.pipeline.exchange``: every upstream call is one recorded attempt, its time is
upstream time, and a refusal is the provider's typed error without the key."""

from __future__ import annotations

import msgspec
import pytest

from keyroute.core.errors import UpstreamRejected
from keyroute.core.secret import Secret
from keyroute.pipeline.exchange import Exchange
from keyroute.providers.base import UpstreamRequest
from keyroute.upstream import UpstreamSender
from keyroute.upstream.function import FunctionTransport, Reply
from tests.unit.pipeline.test_operations import route

pytestmark = pytest.mark.anyio
KEY = "sk-live-secret-0123456789"
REQUEST = UpstreamRequest(
    method="POST", url="http://up.test/v1/chat/completions", headers={}, body=b"{}"
)


def exchange(reply: Reply) -> Exchange:
    return Exchange(UpstreamSender(mounts={"http://": FunctionTransport(lambda r: reply)}))


async def test_a_success_is_one_attempt(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = ctx_factory()
    resp = await exchange(Reply(body=b"{}")).send(ctx, route("openai"), REQUEST, Secret(KEY))
    assert resp.status == 200
    [attempt] = ctx.record.attempts
    assert (attempt.status, attempt.error_code, attempt.provider) == (200, None, "openai")
    assert ctx.upstream_seconds > 0


async def test_a_refusal_is_typed_scrubbed_and_recorded(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = ctx_factory()
    body = msgspec.json.encode({"error": {"message": f"Incorrect API key {KEY}", "type": "x"}})
    with pytest.raises(UpstreamRejected) as info:
        await exchange(Reply(status=401, body=body)).send(
            ctx, route("openai"), REQUEST, Secret(KEY)
        )
    assert KEY not in info.value.message
    [attempt] = ctx.record.attempts
    assert attempt.status == 401 and attempt.error_code == "upstream_rejected"


async def test_a_refused_stream_is_recorded_and_closed(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    ctx = ctx_factory()
    target = route("openai")
    with pytest.raises(UpstreamRejected):
        await exchange(Reply(status=404, body=b"{}")).open(
            ctx, target, REQUEST, target.provider.stream_decoder(), Secret(KEY)
        )
    assert [a.status for a in ctx.record.attempts] == [404]
