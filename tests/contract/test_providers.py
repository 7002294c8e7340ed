"""The contract suite: every provider with a folder in ``tests/transcripts/`` against its goldens.

Checked through the ``Provider`` interface only, as the pipeline drives it:

- ``<case>.request.json``: ``build_request`` of the case's canonical request (``cases.py``) sends
  exactly this body;
- ``<case>.response.json``: ``parse_response`` gives the essentials in ``expected.py``;
- ``<case>.stream.sse``: the bytes, cut at random places, go through ``SSEParser`` and the
  provider's decoder; the events are well formed and reassemble to the expected answer, or the
  decoder raises where expected (``feed``: an error inside the stream, ``close``: it ended early);
- ``<case>.error.json``: ``parse_error`` picks the expected class, status, retryability and wait.

A new folder named after a registered provider joins every test here; the meta-tests then ask for
its expectations and the required cases.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import pytest

from keyroute.core.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected
from keyroute.core.secret import Secret
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.providers import registry
from keyroute.providers.base import Provider, Target, UpstreamResponse
from keyroute.wire.sse import SSEParser
from tests.contract.cases import MODELS, canonical_request
from tests.contract.expected import (
    EXPECTED,
    KNOWN_BUGS,
    SKIPPED,
    Answer,
    Expectation,
    Failure,
)

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts"
# ``clients/`` holds what client programs send to keyroute (tests/integration/clients).
PROVIDERS = sorted(p.name for p in TRANSCRIPTS.iterdir() if p.is_dir() and p.name != "clients")
KINDS = ("request.json", "response.json", "stream.sse", "error.json")
KEY = Secret("sk-contract-test-key")
SEEDS = range(4)
Raised: TypeAlias = tuple[Literal["feed", "close"], Failure]


def golden_files(provider: str) -> list[str]:
    return sorted(p.name for p in (TRANSCRIPTS / provider).iterdir() if p.name.endswith(KINDS))


def golden(provider: str, name: str) -> bytes:
    return (TRANSCRIPTS / provider / name).read_bytes()


def cases(kind: str) -> list[Any]:
    """``(provider, case)`` for every ``<case>.<kind>`` file; files in ``SKIPPED`` are skipped."""
    out = []
    for provider in PROVIDERS:
        for name in golden_files(provider):
            if not name.endswith("." + kind):
                continue
            case = name.removesuffix("." + kind)
            reason = SKIPPED.get(provider, {}).get(name)
            marks = [pytest.mark.skip(reason=f"{provider}/{name}: {reason}")] if reason else []
            out.append(pytest.param(provider, case, id=f"{provider}/{case}", marks=marks))
    return out


def expected(provider: str, name: str) -> Expectation:
    try:
        return EXPECTED[provider][name]
    except KeyError:
        raise AssertionError(f"add {provider}/{name} to tests/contract/expected.py") from None


def target(provider: str) -> Target:
    base_url = registry.spec(provider).base_url
    assert base_url is not None
    assert provider in MODELS, f"add the model of {provider}'s goldens to MODELS in cases.py"
    return Target(provider=provider, model=MODELS[provider], base_url=base_url)


# --- request.json ------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "case"), cases("request.json"))
def test_build_request_sends_the_golden_body(provider: str, case: str) -> None:
    raw = golden(provider, f"{case}.request.json")
    req = canonical_request(provider, case, raw)
    up = registry.create(provider).build_request(req, target(provider), KEY)
    assert json.loads(up.body) == json.loads(raw)
    assert up.stream is req.stream


# --- response.json -----------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "case"), cases("response.json"))
def test_parse_response(provider: str, case: str) -> None:
    want = expected(provider, f"{case}.response.json")
    body = golden(provider, f"{case}.response.json")
    resp = registry.create(provider).parse_response(
        UpstreamResponse(status=200, headers={"content-type": "application/json"}, body=body)
    )
    got = Answer(
        text=resp.text,
        calls=tuple((c.name, c.arguments) for c in resp.tool_calls),
        finish=resp.finish_reason,
        usage=resp.usage,
    )
    assert got == want


# --- stream.sse --------------------------------------------------------------------------------


def splits(raw: bytes, seed: str) -> Iterator[bytes]:
    """``raw`` in random pieces of 1 to 40 bytes (cuts inside lines, JSON and UTF-8 too)."""
    rng = random.Random(seed)
    at = 0
    while at < len(raw):
        step = rng.randint(1, 40)
        yield raw[at : at + step]
        at += step


def decode(provider: Provider, pieces: Iterator[bytes]) -> tuple[list[StreamEvent], Raised | None]:
    """Drive parser and decoder as the pipeline does: the events, and what was raised where."""
    parser, decoder = SSEParser(), provider.stream_decoder()
    events: list[StreamEvent] = []
    stage: Literal["feed", "close"] = "feed"
    try:
        for piece in pieces:
            for sse in parser.feed(piece):
                events.extend(decoder.feed(sse))
        for sse in parser.close():
            events.extend(decoder.feed(sse))
        stage = "close"
        events.extend(decoder.close())
    except UpstreamError as exc:
        return events, (stage, failure(exc))
    return events, None


def failure(exc: UpstreamError) -> Failure:
    return Failure(
        cls=type(exc),
        status=exc.status_code(),
        retryable=exc.is_retryable,
        retry_after=exc.retry_after,
        code=exc.upstream_code,
    )


def check_well_formed(events: list[StreamEvent]) -> None:
    """``StreamStart`` first; tool indexes 0..n-1 in order, each started before its arguments;
    one ``StreamEnd`` at most, followed by nothing but usage."""
    assert events and isinstance(events[0], StreamStart), events[:1]
    assert not any(isinstance(e, StreamStart) for e in events[1:])
    starts = [e.index for e in events if isinstance(e, ToolCallStart)]
    assert starts == list(range(len(starts)))
    started: set[int] = set()
    for e in events:
        if isinstance(e, ToolCallStart):
            started.add(e.index)
        elif isinstance(e, ToolCallArgs):
            assert e.index in started, f"arguments for tool {e.index} before its start"
    ends = [i for i, e in enumerate(events) if isinstance(e, StreamEnd)]
    assert len(ends) <= 1
    for e in events[ends[0] + 1 :] if ends else ():
        assert isinstance(e, UsageReport), f"{e} after StreamEnd"


def assemble(events: list[StreamEvent], raised: Raised | None) -> Answer:
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    names = {e.index: e.name for e in events if isinstance(e, ToolCallStart)}
    args = dict.fromkeys(names, "")
    for e in events:
        if isinstance(e, ToolCallArgs):
            args[e.index] += e.arguments
    finish = [e.finish_reason for e in events if isinstance(e, StreamEnd)]
    usage = [e.usage for e in events if isinstance(e, UsageReport)]
    return Answer(
        text=text or None,
        calls=tuple((names[i], args[i]) for i in sorted(names)),
        finish=finish[0] if finish else None,
        usage=usage[-1] if usage else None,
        raised=raised,
    )


@pytest.mark.parametrize(("provider", "case"), cases("stream.sse"))
def test_stream_decoder(provider: str, case: str) -> None:
    want = expected(provider, f"{case}.stream.sse")
    raw = golden(provider, f"{case}.stream.sse")
    adapter = registry.create(provider)
    events, raised = decode(adapter, iter([raw]))
    for seed in SEEDS:
        assert decode(adapter, splits(raw, f"{provider}/{case}/{seed}")) == (events, raised)
    assert decode(adapter, (raw[i : i + 1] for i in range(len(raw)))) == (events, raised)
    check_well_formed(events)
    assert assemble(events, raised) == want


def complete_streams() -> list[Any]:
    """The stream cases expected to end well, with the known bugs marked."""
    out = []
    for param in cases("stream.sse"):
        provider, case = param.values
        want = EXPECTED.get(provider, {}).get(f"{case}.stream.sse")
        if isinstance(want, Answer) and want.raised is None:
            bug = KNOWN_BUGS.get("cut_before_last_event", {}).get(f"{provider}/{case}")
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            out.append(pytest.param(provider, case, id=param.id, marks=marks))
    return out


@pytest.mark.parametrize(("provider", "case"), complete_streams())
def test_stream_cut_before_its_last_event_is_truncated(provider: str, case: str) -> None:
    """A complete stream cut before its last event (``message_stop``, the finishing chunk,
    ``[DONE]``) must raise on ``close()``: else the pipeline takes a partial answer for whole."""
    raw = golden(provider, f"{case}.stream.sse")
    events = SSEParser().feed(raw)
    decoder = registry.create(provider).stream_decoder()
    for sse in events[:-1]:
        decoder.feed(sse)
    with pytest.raises(UpstreamError):
        decoder.close()


# --- error.json --------------------------------------------------------------------------------


def error_response(raw: bytes) -> UpstreamResponse:
    """``{"status", "headers", "body" | "body_text"}``; Gemini's goldens are the bare body,
    whose ``error.code`` is the HTTP status."""
    spec = json.loads(raw)
    if "status" not in spec:
        headers = {"content-type": "application/json; charset=UTF-8"}
        return UpstreamResponse(status=spec["error"]["code"], headers=headers, body=raw)
    body = spec["body_text"].encode() if "body_text" in spec else json.dumps(spec["body"]).encode()
    return UpstreamResponse(status=spec["status"], headers=spec["headers"], body=body)


@pytest.mark.parametrize(("provider", "case"), cases("error.json"))
def test_parse_error(provider: str, case: str) -> None:
    want = expected(provider, f"{case}.error.json")
    resp = error_response(golden(provider, f"{case}.error.json"))
    err = registry.create(provider).parse_error(resp)
    assert (err.provider, err.upstream_status) == (provider, resp.status)
    assert failure(err) == want


# --- meta ---------------------------------------------------------------------------------------

Rule = Callable[[set[str], Mapping[str, Expectation]], bool]


def both(case: str) -> Rule:
    return lambda files, _: {f"{case}.request.json", f"{case}.response.json"} <= files


def failed(ok: Callable[[Failure], bool]) -> Rule:
    return lambda _, exp: any(isinstance(e, Failure) and ok(e) for e in exp.values())


def streamed(ok: Callable[[Answer], bool]) -> Rule:
    return lambda _, exp: any(
        name.endswith(".stream.sse") and isinstance(e, Answer) and ok(e) for name, e in exp.items()
    )


REQUIRED: dict[str, Rule] = {
    "simple": both("simple"),
    "system prompt": both("system_prompt"),
    "multi-turn": both("multi_turn"),
    "tools": both("tools"),
    "tool result": both("tool_result"),
    "JSON mode or schema": lambda f, e: both("json_schema")(f, e) or both("json_mode")(f, e),
    "streaming with usage": streamed(lambda a: a.finish is not None and a.usage is not None),
    "400": failed(lambda x: x.cls is UpstreamRejected and x.status == 400),
    "401 (or Gemini's API_KEY_INVALID 400 / 403)": failed(
        lambda x: (
            x.cls is UpstreamRejected and (x.status in (401, 403) or x.code == "API_KEY_INVALID")
        )
    ),
    "429 with retry-after": failed(
        lambda x: x.cls is UpstreamRateLimited and x.retry_after is not None
    ),
    "5xx": failed(lambda x: x.status >= 500 and x.retryable),
    "truncated stream": streamed(lambda a: a.raised is not None and a.raised[0] == "close"),
}


def test_every_folder_is_a_registered_provider() -> None:
    assert set(PROVIDERS) <= set(registry.provider_names())
    assert {"openai", "anthropic", "gemini"} <= set(PROVIDERS)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_required_cases(provider: str) -> None:
    files = set(golden_files(provider))
    exp = {k: v for k, v in EXPECTED.get(provider, {}).items() if k in files}
    missing = [name for name, rule in REQUIRED.items() if not rule(files, exp)]
    assert not missing, f"{provider} lacks the required cases {missing}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_expectations_match_the_files(provider: str) -> None:
    """Every golden has an expectation (or a canonical request, or a reason to skip), and every
    expectation has its golden."""
    files = set(golden_files(provider))
    skipped = set(SKIPPED.get(provider, {}))
    requests = {f for f in files if f.endswith(".request.json")}
    assert set(EXPECTED.get(provider, {})) | skipped <= files
    assert files - requests - skipped == set(EXPECTED.get(provider, {}))
    for name, want in EXPECTED.get(provider, {}).items():
        assert isinstance(want, Failure) == name.endswith(".error.json"), name
        if name.endswith(".response.json"):
            assert isinstance(want, Answer) and want.raised is None, name
    for bugs in KNOWN_BUGS.values():
        stale = {k for k in bugs if k.startswith(f"{provider}/")} - {
            f"{provider}/{f.removesuffix('.stream.sse')}" for f in files
        }
        assert not stale, f"KNOWN_BUGS names missing goldens: {stale}"
