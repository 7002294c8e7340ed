"""The fake Gemini over real sockets, driven with aiohttp, its bytes decoded by keyroute's codecs.

This checks the fake's framing (status codes, content types, SSE chunking, cut connections)
and that the provider's requests are what Gemini expects on the wire (path, auth header, body).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart, ToolSpec
from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent, ToolCallStart, UsageReport
from keyroute.providers.base import Target, Timeouts, UpstreamRequest, UpstreamResponse
from keyroute.providers.gemini import GeminiProvider
from keyroute.wire.gemini import encode_request
from keyroute.wire.sse import SSEParser
from tests.fakes.fake_gemini import DEFAULT_API_KEY, FakeGemini, Reply, create_fake_gemini
from tests.fakes.server import serve

pytestmark = pytest.mark.integration

CASES = Path(__file__).resolve().parents[1] / "transcripts" / "gemini"
MODEL = "gemini-3-flash-preview"
HELLO = (Message(role="user", content=(TextPart(text="Hello"),)),)
PROVIDER = GeminiProvider()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[FakeGemini, str]]:
    fake = create_fake_gemini()
    with serve(fake) as base_url:
        yield fake, base_url


@pytest.fixture
def fake(running: tuple[FakeGemini, str]) -> FakeGemini:
    app = running[0]
    app.replies.clear()
    app.received.clear()
    return app


@pytest.fixture
def base_url(running: tuple[FakeGemini, str]) -> str:
    return running[1]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def target(base_url: str, model: str = MODEL) -> Target:
    return Target(provider="gemini", model=model, base_url=base_url, timeouts=Timeouts(total=10.0))


def transcript(name: str, **kw: Any) -> Reply:
    return Reply.transcript(CASES / name, **kw)


async def send(session: aiohttp.ClientSession, req: UpstreamRequest) -> UpstreamResponse:
    async with session.request(req.method, req.url, headers=dict(req.headers), data=req.body) as r:
        return UpstreamResponse(status=r.status, headers=dict(r.headers), body=await r.read())


async def stream(
    session: aiohttp.ClientSession, req: UpstreamRequest
) -> tuple[aiohttp.ClientResponse, list[bytes], list[StreamEvent]]:
    """Send ``req``, read the body chunk by chunk, and decode it as keyroute's upstream does."""
    parser, decoder = SSEParser(), PROVIDER.stream_decoder()
    chunks: list[bytes] = []
    events: list[StreamEvent] = []
    async with session.request(req.method, req.url, headers=dict(req.headers), data=req.body) as r:
        async for chunk in r.content.iter_any():
            chunks.append(chunk)
            for sse in parser.feed(chunk):
                events.extend(decoder.feed(sse))
    for sse in parser.close():
        events.extend(decoder.feed(sse))
    events.extend(decoder.close())
    return r, chunks, events


def chat(
    base_url: str, *, stream: bool = False, key: str = DEFAULT_API_KEY, **kw: Any
) -> UpstreamRequest:
    req = ChatRequest(model=f"gemini/{MODEL}", messages=HELLO, stream=stream, **kw)
    return PROVIDER.build_request(req, target(base_url), Secret(key))


@pytest.mark.anyio
async def test_generate_content_round_trip(fake, base_url, session):
    fake.push(transcript("simple.response.json"))
    sent = chat(base_url, temperature=0.3)
    resp = await send(session, sent)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    response = PROVIDER.parse_response(resp)
    assert response.text == "Hello! How can I help you today?"
    (received,) = fake.received
    assert received.path == f"/v1beta/models/{MODEL}:generateContent"
    assert received.headers["x-goog-api-key"] == DEFAULT_API_KEY
    assert "key" not in received.query
    assert received.headers["content-type"] == "application/json"
    expected = encode_request(ChatRequest(model="g", messages=HELLO, temperature=0.3))
    assert received.json == expected


@pytest.mark.anyio
async def test_stream_with_parallel_tool_calls(fake, base_url, session):
    fake.push(transcript("streaming_parallel_tool_calls.stream.sse", delay=0.05))
    req = chat(
        base_url, stream=True, tools=(ToolSpec(name="get_weather"), ToolSpec(name="get_time"))
    )
    response, chunks, events = await stream(session, req)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert len(chunks) >= 2
    assert fake.received[0].query == {"alt": "sse"}
    assert fake.received[0].path.endswith(":streamGenerateContent")
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [s.index for s in starts] == [0, 1, 2]
    assert events[-1].kind == "end"
    assert getattr(events[-1], "finish_reason", None) == "tool_calls"


@pytest.mark.anyio
async def test_stream_usage_last_report_has_cached_tokens(fake, base_url, session):
    fake.push(transcript("streaming_usage.stream.sse"))
    _, _, events = await stream(session, chat(base_url, stream=True))
    reports = [e.usage for e in events if isinstance(e, UsageReport)]
    assert len(reports) == 3
    assert reports[-1].cache_read_tokens == 1900
    assert reports[-1].input_tokens == 2150


@pytest.mark.anyio
async def test_truncated_stream_is_detected(fake, base_url, session):
    fake.push(transcript("truncated.stream.sse"))
    with pytest.raises(UpstreamError, match="truncated"):
        await stream(session, chat(base_url, stream=True))


@pytest.mark.anyio
async def test_cut_connection_fails_the_read(fake, base_url, session):
    fake.push(transcript("truncated.stream.sse", abort=True))
    req = chat(base_url, stream=True)
    with pytest.raises(aiohttp.ClientPayloadError):
        await stream(session, req)


@pytest.mark.anyio
async def test_stream_without_alt_sse_is_a_json_array(fake, base_url, session):
    fake.push(transcript("streaming_usage.stream.sse"))
    sent = chat(base_url, stream=True)
    resp = await send(
        session,
        UpstreamRequest(
            method="POST", url=sent.url.split("?")[0], headers=sent.headers, body=sent.body
        ),
    )
    values = json.loads(resp.body)
    assert isinstance(values, list)
    assert len(values) == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("case", "cls", "status", "retry_after"),
    [
        ("error_429.error.json", UpstreamRateLimited, 429, 19.0),
        ("error_500.error.json", UpstreamError, 500, None),
        ("error_503.error.json", UpstreamError, 503, None),
        ("error_400.error.json", UpstreamRejected, 400, None),
    ],
)
async def test_error_replies(fake, base_url, session, case, cls, status, retry_after):
    fake.push(transcript(case))
    resp = await send(session, chat(base_url))
    assert resp.status == status
    error = PROVIDER.parse_error(resp)
    assert type(error) is cls
    assert error.retry_after == retry_after
    assert error.is_retryable is (status != 400)


@pytest.mark.anyio
async def test_wrong_key_is_400_api_key_invalid(fake, base_url, session):
    fake.push(transcript("simple.response.json"))
    resp = await send(session, chat(base_url, key="wrong"))
    assert resp.status == 400
    error = PROVIDER.parse_error(resp)
    assert isinstance(error, UpstreamRejected)
    assert error.upstream_code == "API_KEY_INVALID"
    assert len(fake.replies) == 1  # the scripted reply was not consumed


@pytest.mark.anyio
async def test_missing_key_is_403_even_with_a_key_in_the_query(fake, base_url, session):
    sent = chat(base_url)
    headers = {k: v for k, v in sent.headers.items() if k != "x-goog-api-key"}
    url = f"{sent.url}?key={DEFAULT_API_KEY}"
    resp = await send(
        session, UpstreamRequest(method="POST", url=url, headers=headers, body=sent.body)
    )
    assert resp.status == 403
    assert PROVIDER.parse_error(resp).upstream_type == "PERMISSION_DENIED"


@pytest.mark.anyio
async def test_empty_queue_and_bad_routes_answer_gemini_errors(fake, base_url, session):
    resp = await send(session, chat(base_url))
    assert resp.status == 500
    assert "no scripted reply" in PROVIDER.parse_error(resp).message
    bad = chat(base_url)
    resp = await send(
        session,
        UpstreamRequest(
            method="POST",
            url=bad.url.replace("generateContent", "explode"),
            headers=bad.headers,
            body=bad.body,
        ),
    )
    assert resp.status == 404
    resp = await send(
        session, UpstreamRequest(method="POST", url=bad.url, headers=bad.headers, body=b"{nope")
    )
    assert resp.status == 400


@pytest.mark.anyio
async def test_batch_embed_contents(fake, base_url, session):
    fake.push(transcript("embeddings.response.json"))
    req = EmbeddingRequest(model="gemini/e", inputs=("hello world", "goodbye"), dimensions=4)
    sent = PROVIDER.build_embeddings_request(
        req, target(base_url, "gemini-embedding-001"), Secret(DEFAULT_API_KEY)
    )
    resp = await send(session, sent)
    assert resp.status == 200
    response = PROVIDER.parse_embeddings_response(resp)
    assert len(response.vectors) == 2
    assert fake.received[0].path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert fake.received[0].json == json.loads((CASES / "embeddings.request.json").read_text())


@pytest.mark.anyio
async def test_embeddings_model_mismatch_is_rejected_like_gemini(fake, base_url, session):
    fake.push(transcript("embeddings.response.json"))
    req = EmbeddingRequest(model="gemini/e", inputs=("a",))
    sent = PROVIDER.build_embeddings_request(
        req, target(base_url, "gemini-embedding-001"), Secret(DEFAULT_API_KEY)
    )
    wrong = UpstreamRequest(
        method="POST",
        url=sent.url.replace("gemini-embedding-001", "other-model"),
        headers=sent.headers,
        body=sent.body,
    )
    resp = await send(session, wrong)
    assert resp.status == 400
