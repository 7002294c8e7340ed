"""A 2xx answer not in the provider's format is a 502 naming the provider, for every provider.

An upstream can answer 200 with anything: another provider's format (an OpenAI completion from
an "Anthropic" host), an HTML page from a proxy, an empty or cut body. None of it may reach the
client as an empty answer. Streams are refused at their first event, before anything is
relayed (what streaming failover needs), or at their end when they had no event at all.
"""

from __future__ import annotations

import json

import pytest

from keyroute.core.errors import UpstreamError
from keyroute.core.stream import StreamEvent
from keyroute.providers import registry
from keyroute.providers.base import UpstreamResponse
from keyroute.wire.sse import SSEParser
from tests.fakes.hostile_upstream import BODIES, stream_events

FORMATS = ("openai", "anthropic", "gemini")
# Every provider format, plus an OpenAI-compatible preset and the demo (the OpenAI decoder).
PROVIDERS = [("openai", "openai"), ("anthropic", "anthropic"), ("gemini", "gemini")]
PROVIDERS += [("mistral", "openai"), ("demo", "openai")]

JUNK: dict[str, bytes] = {
    "empty": b"",
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "null": b"null",
    "array": b"[]",
    "string": b'"ok"',
    "empty object": b"{}",
}


def bodies(fmt: str) -> dict[str, bytes]:
    own = json.dumps(BODIES[fmt]).encode()
    found = {**JUNK, "truncated": own[: len(own) // 2]}
    found.update({f"{other} body": json.dumps(BODIES[other]).encode() for other in FORMATS})
    del found[f"{fmt} body"]
    return found


def streams(fmt: str) -> dict[str, bytes]:
    first = stream_events(fmt)[0]
    found = {
        "empty": b"",
        "html": JUNK["html"],
        "garbage data": b"data: hello\n\n",
        "null data": b"data: null\n\n",
        "empty object data": b"data: {}\n\n",
        "truncated first event": first[: len(first) // 2] + b"\n\n",
    }
    found.update({f"{other} stream": b"".join(stream_events(other)) for other in FORMATS})
    del found[f"{fmt} stream"]
    return found


CASES = [(p, f, case, body) for p, f in PROVIDERS for case, body in bodies(f).items()]
STREAM_CASES = [(p, f, case, raw) for p, f in PROVIDERS for case, raw in streams(f).items()]


@pytest.mark.parametrize(("provider", "fmt", "case", "body"), CASES)
def test_a_foreign_2xx_body_is_a_502(provider: str, fmt: str, case: str, body: bytes) -> None:
    adapter = registry.create(provider)
    with pytest.raises(UpstreamError) as err:
        adapter.parse_response(UpstreamResponse(status=200, headers={}, body=body))
    assert err.value.status_code() == 502
    assert err.value.provider == adapter.name
    assert adapter.name in err.value.message


@pytest.mark.parametrize(("provider", "fmt", "case", "raw"), STREAM_CASES)
def test_a_foreign_stream_is_refused_before_anything_is_relayed(
    provider: str, fmt: str, case: str, raw: bytes
) -> None:
    adapter = registry.create(provider)
    parser, decoder = SSEParser(), adapter.stream_decoder()
    relayed: list[StreamEvent] = []
    with pytest.raises(UpstreamError) as err:
        for sse in parser.feed(raw) + parser.close():
            relayed.extend(decoder.feed(sse))
        relayed.extend(decoder.close())
    assert relayed == []
    assert err.value.status_code() == 502
    assert adapter.name in err.value.message


@pytest.mark.parametrize(("provider", "fmt"), PROVIDERS)
def test_the_provider_s_own_format_still_decodes(provider: str, fmt: str) -> None:
    adapter = registry.create(provider)
    own = json.dumps(BODIES[fmt]).encode()
    assert adapter.parse_response(UpstreamResponse(status=200, headers={}, body=own)).text == "hi"
    parser, decoder = SSEParser(), adapter.stream_decoder()
    raw = b"".join(stream_events(fmt))
    events = [e for sse in parser.feed(raw) + parser.close() for e in decoder.feed(sse)]
    assert events + decoder.close()
