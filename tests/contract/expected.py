"""What every golden must decode to: the canonical essentials, per provider and transcript file.

``EXPECTED[provider][file]`` is an ``Answer`` for ``<case>.response.json`` and ``<case>.stream.sse``
(text, tool calls as ``(name, arguments)``, finish reason, the last usage) or a ``Failure`` for
``<case>.error.json`` and for streams that fail. ``request.json`` files need no entry: their
canonical request is in ``cases.py``. ``SKIPPED`` names the files this suite does not check,
and why; ``KNOWN_BUGS`` the breaches of the contract it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from keyroute.core.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.core.response import FinishReason, Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """An ``UpstreamError``: its exact class, ``status_code()``, retryability and retry-after.

    ``code`` is ``upstream_code``: what lets routing tell a bad key from a bad request.
    """

    cls: type[UpstreamError]
    status: int
    retryable: bool
    retry_after: float | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A decoded answer. ``raised``: a stream fails in ``feed`` (an error event inside it) or in
    ``close`` (it ended early); ``finish`` is ``None`` when no ``StreamEnd`` came."""

    text: str | None = None
    calls: tuple[tuple[str, str], ...] = ()
    finish: FinishReason | None = None
    usage: Usage | None = None
    raised: tuple[Literal["feed", "close"], Failure] | None = None


Expectation: TypeAlias = Answer | Failure


def usage(
    i: int, o: int, *, read: int = 0, write: int = 0, write_1h: int = 0, reasoning: int = 0
) -> Usage:
    return Usage(
        input_tokens=i,
        output_tokens=o,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=reasoning,
    )


def weather(city: str, spaced: bool = False) -> tuple[str, str]:
    sep = ": " if spaced else ":"
    return ("get_weather", f'{{"city"{sep}"{city}"}}')


TRUNCATED: tuple[Literal["close"], Failure] = (
    "close",
    Failure(cls=UpstreamError, status=502, retryable=True),
)
REJECTED_400 = Failure(cls=UpstreamRejected, status=400, retryable=False)
SERVER_500 = Failure(cls=UpstreamError, status=502, retryable=True)

EXPECTED: dict[str, dict[str, Expectation]] = {
    "openai": {
        "simple.response.json": Answer(
            text="Hello! How can I assist you today?", finish="stop", usage=usage(8, 9)
        ),
        "system_prompt.response.json": Answer(text="Rome.", finish="stop", usage=usage(41, 2)),
        "multi_turn.response.json": Answer(
            text="Your name is Ada.", finish="stop", usage=usage(36, 6)
        ),
        "tools.response.json": Answer(
            calls=(weather("Paris"),), finish="tool_calls", usage=usage(62, 15)
        ),
        "tool_result.response.json": Answer(
            text="It is 18 °C and clear in Paris.", finish="stop", usage=usage(96, 13)
        ),
        "parallel_tool_calls.response.json": Answer(
            calls=(weather("Paris", True), weather("Rome", True)),
            finish="tool_calls",
            usage=usage(55, 46),
        ),
        "json_schema.response.json": Answer(
            text='{"name":"Ada","age":36}', finish="stop", usage=usage(68, 10)
        ),
        # OpenAI reports a matched stop sequence as a plain "stop" and does not say which one.
        "stop_sequence.response.json": Answer(
            text="1\n2\n3\n4\n", finish="stop", usage=usage(20, 8)
        ),
        "max_tokens.response.json": Answer(
            text="The sea, the sea, its restless grey,\nIt whispers secrets to the bay;\n"
            "Beneath the",
            finish="length",
            usage=usage(15, 20),
        ),
        "streaming_usage.stream.sse": Answer(
            text="Hello, Bonjour, Hola!", finish="stop", usage=usage(2150, 7, read=1920)
        ),
        "streaming_tool_calls.stream.sse": Answer(
            calls=(weather("Paris", True), weather("Rome", True)),
            finish="tool_calls",
            usage=usage(55, 46),
        ),
        "truncated_stream.stream.sse": Answer(
            text="The first part of a long answer", raised=TRUNCATED
        ),
        "stream_error.stream.sse": Answer(text="Partial", raised=("feed", SERVER_500)),
        "error_400.error.json": Failure(
            cls=UpstreamRejected, status=400, retryable=False, code="invalid_type"
        ),
        "error_401.error.json": Failure(
            cls=UpstreamRejected, status=401, retryable=False, code="invalid_api_key"
        ),
        "error_429.error.json": Failure(
            cls=UpstreamRateLimited,
            status=429,
            retryable=True,
            retry_after=7.0,
            code="rate_limit_exceeded",
        ),
        "error_500.error.json": SERVER_500,
    },
    "anthropic": {
        "simple.response.json": Answer(
            text="Hello! How can I help you today?", finish="stop", usage=usage(11, 12)
        ),
        "system_prompt.response.json": Answer(text="Rome.", finish="stop", usage=usage(31, 4)),
        "multi_turn.response.json": Answer(
            text="Your name is Ada.", finish="stop", usage=usage(40, 7)
        ),
        "tools.response.json": Answer(
            text="Let me check the weather.",
            calls=(weather("Paris"),),
            finish="tool_calls",
            usage=usage(380, 58),
        ),
        "tool_result.response.json": Answer(
            text="Paris is 18 °C; Rome's weather could not be fetched.",
            finish="stop",
            usage=usage(512, 19),
        ),
        "parallel_tool_calls.response.json": Answer(
            calls=(weather("Paris"), weather("Rome")), finish="tool_calls", usage=usage(402, 71)
        ),
        "json_schema.response.json": Answer(
            text='{"name":"Ada","age":36}', finish="stop", usage=usage(95, 12)
        ),
        "stop_sequence.response.json": Answer(
            text="1, 2, 3, 4, 5 ", finish="stop_sequence", usage=usage(20, 14)
        ),
        "max_tokens.response.json": Answer(
            text="Once upon a time, in a", finish="length", usage=usage(12, 8)
        ),
        # Anthropic's input_tokens excludes the cache: 230 + 1200 written + 1920 read.
        "streaming_usage.stream.sse": Answer(
            text="Hello, Bonjour, Hola!",
            finish="stop",
            usage=usage(3350, 15, read=1920, write=1200, write_1h=1000),
        ),
        "streaming_tool_use.stream.sse": Answer(
            text="Let me check both cities.",
            calls=(weather("Paris", True), weather("Rome", True)),
            finish="tool_calls",
            usage=usage(380, 89),
        ),
        "thinking_tool_use.stream.sse": Answer(
            text="Let me look that up.",
            calls=(weather("Paris", True),),
            finish="tool_calls",
            usage=usage(730, 121, read=310, reasoning=64),
        ),
        "truncated_stream.stream.sse": Answer(
            text="The first part of a long answer", usage=usage(15, 1), raised=TRUNCATED
        ),
        # Overloaded inside a 200 stream: Anthropic's 529, answered as 503.
        "stream_error.stream.sse": Answer(
            text="Partial",
            usage=usage(15, 1),
            raised=("feed", Failure(cls=UpstreamError, status=503, retryable=True)),
        ),
        "bad_request.error.json": REJECTED_400,
        "unauthorized.error.json": Failure(cls=UpstreamRejected, status=401, retryable=False),
        "payload_too_large.error.json": Failure(cls=UpstreamRejected, status=413, retryable=False),
        "rate_limited.error.json": Failure(
            cls=UpstreamRateLimited, status=429, retryable=True, retry_after=7.0
        ),
        "server_error.error.json": SERVER_500,
        "overloaded.error.json": Failure(cls=UpstreamError, status=503, retryable=True),
    },
    "gemini": {
        "simple.response.json": Answer(
            text="Hello! How can I help you today?", finish="stop", usage=usage(2, 9)
        ),
        "system_prompt.response.json": Answer(text="Rome.", finish="stop", usage=usage(21, 2)),
        "multi_turn.response.json": Answer(
            text="Your name is Ada.", finish="stop", usage=usage(24, 6)
        ),
        "tools.response.json": Answer(
            calls=(weather("Paris"),), finish="tool_calls", usage=usage(58, 16)
        ),
        "tool_result.response.json": Answer(
            text="It is 18 °C and clear in Paris.", finish="stop", usage=usage(92, 12)
        ),
        # Gemini's output_tokens include its thoughts (candidates + thoughtsTokenCount).
        "parallel_tool_calls.response.json": Answer(
            calls=(weather("Paris"), weather("London")),
            finish="tool_calls",
            usage=usage(60, 71, reasoning=41),
        ),
        "thought_signatures.response.json": Answer(
            calls=(weather("Tokyo"), weather("Paris")),
            finish="tool_calls",
            usage=usage(70, 122, reasoning=88),
        ),
        "json_schema.response.json": Answer(
            text='{"name": "Ada", "age": 36}', finish="stop", usage=usage(11, 12)
        ),
        # Gemini reports a matched stop sequence as STOP and does not say which one.
        "stop_sequence.response.json": Answer(
            text="1\n2\n3\n4\n", finish="stop", usage=usage(12, 8)
        ),
        "max_tokens.response.json": Answer(
            text="The sea, the sea, its restless grey",
            finish="length",
            usage=usage(9, 20, reasoning=12),
        ),
        "blocked_prompt.response.json": Answer(finish="content_filter", usage=usage(14, 0)),
        "streaming_usage.stream.sse": Answer(
            text="The quick brown fox jumps.",
            finish="stop",
            usage=usage(2150, 51, read=1900, reasoning=45),
        ),
        "streaming_parallel_tool_calls.stream.sse": Answer(
            text="Let me check.",
            calls=(weather("Paris"), weather("London"), ("get_time", '{"tz":"Europe/Berlin"}')),
            finish="tool_calls",
            usage=usage(80, 65, reasoning=25),
        ),
        "truncated.stream.sse": Answer(
            text="Once upon a time", usage=usage(7, 3), raised=TRUNCATED
        ),
        "stream_error.stream.sse": Answer(
            text="Partial",
            raised=("feed", Failure(cls=UpstreamError, status=503, retryable=True)),
        ),
        "error_400.error.json": REJECTED_400,
        "error_api_key_invalid.error.json": Failure(
            cls=UpstreamRejected, status=400, retryable=False, code="API_KEY_INVALID"
        ),
        "error_403.error.json": Failure(
            cls=UpstreamRejected, status=403, retryable=False, code="SERVICE_DISABLED"
        ),
        "error_404.error.json": Failure(cls=UpstreamRejected, status=404, retryable=False),
        # Gemini sends no retry-after header: the wait is the body's RetryInfo.retryDelay.
        "error_429.error.json": Failure(
            cls=UpstreamRateLimited, status=429, retryable=True, retry_after=19.0
        ),
        # A per-day quota: waiting does not help, fail over instead.
        "error_429_daily.error.json": Failure(
            cls=UpstreamRateLimited, status=429, retryable=False, retry_after=52075.0
        ),
        "error_500.error.json": SERVER_500,
        "error_503.error.json": Failure(cls=UpstreamError, status=503, retryable=True),
        "error_504.error.json": Failure(cls=UpstreamTimeout, status=504, retryable=True),
    },
}

_EMBEDDINGS = (
    "the embeddings endpoint, not chat: outside the Provider protocol, checked by "
    "tests/unit/wire/test_gemini_transcripts.py"
)
SKIPPED: dict[str, dict[str, str]] = {
    "gemini": {
        "embeddings.request.json": _EMBEDDINGS,
        "embeddings.response.json": _EMBEDDINGS,
    },
}

# Contract breaches this suite found, one xfail(strict=True) each until src/ is fixed:
# check -> "provider/case" -> reason.
KNOWN_BUGS: dict[str, dict[str, str]] = {}
