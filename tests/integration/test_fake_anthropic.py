"""The fake Anthropic over real sockets, driven by the official SDK and by AnthropicProvider.

The SDK proves the fake is wire-exact (it parses its JSON, SSE and errors as it would the real
API's); the same bytes then go through keyroute's decoders, and the provider's own requests go to
the fake, which validates them against the SDK's request types.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import anthropic
import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart, ToolSpec
from keyroute.core.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent, ToolCallArgs, ToolCallStart, UsageReport
from keyroute.providers.anthropic import AnthropicProvider
from keyroute.providers.base import Target, Timeouts, UpstreamRequest, UpstreamResponse
from keyroute.wire.anthropic import decode_response
from keyroute.wire.sse import SSEParser
from tests.fakes.fake_anthropic import FakeAnthropic, Reply, create_fake_anthropic, transcript_bytes
from tests.fakes.server import serve

pytestmark = pytest.mark.integration

KEY = "sk-ant-integration"
MODEL = "claude-sonnet-5-5"
PROVIDER = AnthropicProvider()
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ASK = [{"role": "user", "content": "Weather in Paris and Rome?"}]


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = create_fake_anthropic(api_key=KEY)
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def fake(running: tuple[FakeAnthropic, str]) -> FakeAnthropic:
    running[0].replies.clear()
    running[0].received.clear()
    return running[0]


@pytest.fixture
def base_url(running: tuple[FakeAnthropic, str]) -> str:
    return running[1]


@pytest.fixture
def client(base_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=KEY, base_url=base_url, max_retries=0) as sdk:
        yield sdk


def send(up: UpstreamRequest) -> UpstreamResponse:
    """What ``keyroute.upstream`` does, minus pooling: one request, whole body."""
    assert up.url.startswith("http://127.0.0.1:")
    headers = dict(up.headers)
    request = urllib.request.Request(up.url, up.body, headers, method=up.method)  # noqa: S310
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=up.timeouts.total) as resp:
            return UpstreamResponse(
                status=resp.status, headers=dict(resp.headers), body=resp.read()
            )
    except urllib.error.HTTPError as err:
        return UpstreamResponse(
            status=err.code, headers={k.lower(): v for k, v in err.headers.items()}, body=err.read()
        )


def decode_stream(body: bytes) -> list[StreamEvent]:
    parser, decoder = SSEParser(), PROVIDER.stream_decoder()
    events = [e for sse in parser.feed(body) for e in decoder.feed(sse)]
    return events + [e for sse in parser.close() for e in decoder.feed(sse)] + decoder.close()


def target(base_url: str) -> Target:
    return Target(
        provider="anthropic", model=MODEL, base_url=base_url, timeouts=Timeouts(total=10.0)
    )


def test_sdk_non_stream_and_same_bytes_through_our_decoder(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.push(Reply.transcript("tools"))
    message = client.messages.create(model=MODEL, max_tokens=1024, messages=ASK, tools=[WEATHER])  # type: ignore[list-item]
    assert message.stop_reason == "tool_use"
    sent = fake.received[0]
    # SDK 2.x authenticates with a bearer token and pins a newer API version than ours.
    assert (sent.path, sent.headers["authorization"]) == ("/v1/messages", f"Bearer {KEY}")
    assert sent.headers["anthropic-version"]
    ours = decode_response(transcript_bytes("tools", "response.json"))
    tool_use = message.content[1]
    assert tool_use.type == "tool_use"
    assert (ours.tool_calls[0].id, json.loads(ours.tool_calls[0].arguments)) == (
        tool_use.id,
        tool_use.input,
    )
    assert ours.usage is not None
    assert ours.usage.output_tokens == message.usage.output_tokens


def test_sdk_stream_helper_reassembles_tool_calls_like_our_decoder(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.push(Reply.transcript("streaming_tool_use"))
    with client.messages.stream(
        model=MODEL, max_tokens=1024, messages=ASK, tools=[WEATHER]
    ) as stream:  # type: ignore[list-item]
        final = stream.get_final_message()
    assert fake.received[0].json["stream"] is True
    sdk_calls = [(b.id, b.input) for b in final.content if b.type == "tool_use"]
    assert sdk_calls == [("toolu_01P", {"city": "Paris"}), ("toolu_01R", {"city": "Rome"})]

    events = decode_stream(transcript_bytes("streaming_tool_use", "stream.sse"))
    starts = {e.index: e.id for e in events if isinstance(e, ToolCallStart)}
    args: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallArgs):
            args[e.index] = args.get(e.index, "") + e.arguments
    assert [(starts[i], json.loads(args[i])) for i in sorted(starts)] == sdk_calls
    usage = [e.usage for e in events if isinstance(e, UsageReport)][-1]
    assert (usage.input_tokens, usage.output_tokens) == (
        final.usage.input_tokens,
        final.usage.output_tokens,
    )


def test_sdk_stream_with_cache_usage(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.push(Reply.transcript("streaming_usage"))
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=ASK) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello, Bonjour, Hola!"
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (
        1920,
        1200,
    )


@pytest.mark.parametrize(
    ("case", "sdk_error", "status"),
    [
        ("rate_limited", anthropic.RateLimitError, 429),
        ("overloaded", anthropic.InternalServerError, 529),
        ("server_error", anthropic.InternalServerError, 500),
        ("bad_request", anthropic.BadRequestError, 400),
        ("payload_too_large", anthropic.APIStatusError, 413),
    ],
)
def test_sdk_sees_scripted_errors(
    fake: FakeAnthropic,
    client: anthropic.Anthropic,
    case: str,
    sdk_error: type[Exception],
    status: int,
) -> None:
    fake.push(Reply.transcript(case))
    with pytest.raises(sdk_error) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert isinstance(info.value, anthropic.APIStatusError)
    assert info.value.status_code == status
    if case == "rate_limited":
        assert info.value.response.headers["retry-after"] == "7"


def test_sdk_in_stream_error(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.push(Reply.transcript("stream_error"))
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client.messages.stream(model=MODEL, max_tokens=10, messages=ASK) as stream,
    ):  # type: ignore[arg-type]
        stream.until_done()
    assert "overloaded_error" in str(info.value)


def test_sdk_wrong_key_is_401(base_url: str, fake: FakeAnthropic) -> None:
    with (
        anthropic.Anthropic(api_key="wrong", base_url=base_url, max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError),
    ):
        sdk.messages.create(model=MODEL, max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert fake.received[0].headers["authorization"] == "Bearer wrong"


def test_sdk_count_tokens(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    count = client.messages.count_tokens(model=MODEL, system="Be terse.", messages=ASK)  # type: ignore[arg-type]
    assert count.input_tokens == 2 + 5


CHAT = ChatRequest(
    model="anthropic/claude",
    messages=(
        Message(role="system", content=(TextPart(text="Be terse."),)),
        Message(role="user", content=(TextPart(text="Weather in Paris and Rome?"),)),
    ),
    tools=(
        ToolSpec(
            name="get_weather",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        ),
    ),
)


def test_provider_round_trip(fake: FakeAnthropic, base_url: str) -> None:
    fake.push(Reply.transcript("parallel_tool_calls"))
    resp = send(PROVIDER.build_request(CHAT, target(base_url), Secret(KEY)))
    assert resp.status == 200, resp.body
    assert (
        fake.received[0].headers["x-api-key"],
        fake.received[0].headers["anthropic-version"],
    ) == (KEY, "2023-06-01")
    got = PROVIDER.parse_response(resp)
    assert [json.loads(c.arguments) for c in got.tool_calls] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    assert fake.received[0].json["system"] == [{"type": "text", "text": "Be terse."}]


def test_provider_stream_round_trip(fake: FakeAnthropic, base_url: str) -> None:
    fake.push(Reply.transcript("thinking_tool_use"))
    chat = ChatRequest(
        model="m", messages=CHAT.messages, tools=CHAT.tools, stream=True, thinking_budget=2048
    )
    resp = send(PROVIDER.build_request(chat, target(base_url), Secret(KEY)))
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = decode_stream(resp.body)
    assert [e for e in events if isinstance(e, ToolCallStart)] == [
        ToolCallStart(index=0, id="toolu_01T", name="get_weather")
    ]


def test_provider_truncated_stream_fails(fake: FakeAnthropic, base_url: str) -> None:
    fake.push(Reply.transcript("truncated_stream"))
    resp = send(PROVIDER.build_request(CHAT, target(base_url), Secret(KEY)))
    with pytest.raises(UpstreamError, match="message_stop"):
        decode_stream(resp.body)


@pytest.mark.parametrize(
    ("case", "cls", "retry_after"),
    [
        ("rate_limited", UpstreamRateLimited, 7.0),
        ("overloaded", UpstreamError, None),
        ("payload_too_large", UpstreamRejected, None),
    ],
)
def test_provider_errors(
    fake: FakeAnthropic,
    base_url: str,
    case: str,
    cls: type[UpstreamError],
    retry_after: float | None,
) -> None:
    fake.push(Reply.transcript(case))
    err = PROVIDER.parse_error(send(PROVIDER.build_request(CHAT, target(base_url), Secret(KEY))))
    assert (type(err), err.retry_after) == (cls, retry_after)


def test_provider_wrong_key(fake: FakeAnthropic, base_url: str) -> None:
    err = PROVIDER.parse_error(send(PROVIDER.build_request(CHAT, target(base_url), Secret("nope"))))
    assert isinstance(err, UpstreamRejected)
    assert err.upstream_status == 401
    assert err.upstream_type == "authentication_error"


def test_provider_count_tokens(fake: FakeAnthropic, base_url: str) -> None:
    resp = send(PROVIDER.build_count_tokens_request(CHAT, target(base_url), Secret(KEY)))
    assert PROVIDER.parse_count_tokens(resp) == 2 + 5


def test_fake_rejects_invalid_bodies(fake: FakeAnthropic, base_url: str) -> None:
    up = PROVIDER.build_request(CHAT, target(base_url), Secret(KEY))
    broken = UpstreamRequest(
        method="POST", url=up.url, headers=up.headers, body=b'{"model": "m", "messages": []}'
    )
    err = PROVIDER.parse_error(send(broken))
    assert (err.upstream_status, err.upstream_type) == (400, "invalid_request_error")
    empty = send(UpstreamRequest(method="POST", url=up.url, headers=up.headers, body=up.body))
    assert PROVIDER.parse_error(empty).upstream_status == 500  # nothing scripted


def _cache_body(*blocks: dict[str, object], auto: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "claude-sonnet-5",
        "max_tokens": 5,
        "system": [{"type": "text", "text": "s" * 8000, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": list(blocks) or "hi"}],
    }
    if auto:
        body["cache_control"] = {"type": "ephemeral"}
    return body


def test_the_cache_simulator_follows_the_providers_rules() -> None:
    from tests.fakes.fake_anthropic_cache import CacheRuleError, PromptCacheSim

    sim = PromptCacheSim(clock=lambda: now[0])
    now = [0.0]
    first = sim.account(_cache_body())
    assert (first.read, first.written) == (0, 0 + 2000)
    again = sim.account(_cache_body())
    assert (again.read, again.written) == (2000, 0)
    now[0] = 301.0  # past the five-minute lifetime (a read at 0 refreshed it to 300)
    assert sim.account(_cache_body()).read == 0
    short = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    with pytest.raises(CacheRuleError, match="maximum of 4"):
        sim.account(_cache_body(short, short, short, short))
    long_after = {"type": "text", "text": "y", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    with pytest.raises(CacheRuleError, match="1h"):
        sim.account(_cache_body(long_after))
    small = PromptCacheSim()
    body = _cache_body()
    body["system"] = [{"type": "text", "text": "tiny", "cache_control": {"type": "ephemeral"}}]
    assert small.account(body).written == 0  # below the model's minimum: nothing cached
    auto = PromptCacheSim()
    auto.account(_cache_body({"type": "text", "text": "z" * 400}, auto=True))
    assert auto.account(_cache_body({"type": "text", "text": "z" * 400}, auto=True)).read == 2100
