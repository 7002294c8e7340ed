"""The world of the translation-matrix suite (``test_matrix.py``): gateway, fakes, replies, checks.

``open_world`` starts, once per module, what the ``gateway`` fixture of conftest.py starts (init
over a temporary SQLite data dir, ``create_app`` on an ephemeral port), four fake upstreams on
their own ports (OpenAI, an OpenAI-compatible host whose key is named ``compat``, Anthropic,
Gemini) and one client per official SDK. A cell scripts the reply of its upstream in that
provider's own wire format (``script``, ``script_stream``), calls the gateway through an SDK
(``ask``, ``ask_stream``: answers are re-validated with the SDK's pydantic types and summed up as
an ``Answer``), then asserts on the request the upstream received (``sent``) and on the answer.
A refused cell goes through ``refused``: a 400 in the client's error format whose message holds
the given words, and no request at all reached the upstream.

Scripted usage: every non-streamed reply reports a 12-token prompt (4 read from the cache) and 7
output tokens; every streamed one 100 prompt tokens (40 cached) and 20 output tokens, plus 10
cache-write tokens from Anthropic and 5 reasoning tokens (counted in the 20) from Gemini.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import anthropic
import openai
import pydantic
import pytest
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from openai.types import ErrorObject
from openai.types.chat import ChatCompletion, ChatCompletionChunk, completion_create_params

from keyroute.api.app import create_app
from keyroute.api.connection import uvicorn_options
from keyroute.cli.bootstrap import initialise
from keyroute.config.load import load
from keyroute.config.schema import Config
from keyroute.services import Services
from tests.fakes import fake_anthropic, fake_gemini, fake_openai
from tests.fakes.fake_anthropic import FakeAnthropic, create_fake_anthropic, validate
from tests.fakes.fake_gemini import FakeGemini, create_fake_gemini
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.server import serve

INBOUNDS = ("openai", "anthropic")
UPSTREAMS = ("openai", "compat", "anthropic", "gemini")
MODEL = {
    "openai": "openai/gpt-4o-mini",
    "compat": "compat/llama-3",
    "anthropic": "anthropic/claude-sonnet-5-5",
    "gemini": "gemini/gemini-3.5-flash",
}
UPSTREAM_MODEL = {u: MODEL[u].split("/", 1)[1] for u in UPSTREAMS}
WIRE = {"openai": "openai", "compat": "openai", "anthropic": "anthropic", "gemini": "gemini"}
PROVIDER_ID = dict(WIRE, compat="openai-compatible")  # how error messages name each upstream
ANTHROPIC_KEY = "sk-ant-matrix"
GEMINI_KEY = "gemini-matrix-key"


def _words(*words: str) -> dict[str, str]:
    return dict(zip(("stop", "length", "tool_calls", "stop_sequence"), words, strict=True))


FINISH = {  # the abstract finish -> each wire's word for it (upstream replies, client answers)
    "openai": _words("stop", "length", "tool_calls", "stop"),
    "anthropic": _words("end_turn", "max_tokens", "tool_use", "stop_sequence"),
    "gemini": _words("STOP", "MAX_TOKENS", "STOP", "STOP"),
}
HI = [{"role": "user", "content": "Hi"}]
ASK = [{"role": "user", "content": "Weather in Paris, and the time there?"}]


def per(inbound: str, openai_value: Any, anthropic_value: Any) -> Any:
    """The value for the client's own format."""
    return openai_value if inbound == "openai" else anthropic_value


# -- tools and tool calls, in every shape ------------------------------------------------------


def _tool(name: str, description: str, arg: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}
    return {"name": name, "description": description, "parameters": schema}


TOOLS = (
    _tool("get_weather", "Current weather for a city", "city"),
    _tool("get_time", "Local time in a time zone", "tz"),
)


def client_tools(inbound: str) -> list[dict[str, Any]]:
    """The tools as a client of ``inbound`` format sends them."""
    return tools_for("openai" if inbound == "openai" else "anthropic")


def tools_for(upstream: str) -> list[dict[str, Any]]:
    """The tools as ``upstream`` must receive them, whatever format the client spoke."""
    if WIRE[upstream] == "openai":
        return [{"type": "function", "function": t} for t in TOOLS]
    key = "input_schema" if WIRE[upstream] == "anthropic" else "parametersJsonSchema"
    tools = [
        {"name": t["name"], "description": t["description"], key: t["parameters"]} for t in TOOLS
    ]
    return tools if WIRE[upstream] == "anthropic" else [{"functionDeclarations": tools}]


@dataclass(frozen=True)
class Call:
    """A tool call. ``id`` None: Gemini sent none (keyroute makes one)."""

    id: str | None
    name: str
    arguments: str  # compact JSON text, so every wire renders it byte for byte the same

    @property
    def args(self) -> Any:
        return json.loads(self.arguments)

    def as_openai(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}

    def as_anthropic(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.args}

    def as_gemini(self) -> dict[str, Any]:
        call = {"name": self.name, "args": self.args}
        return {"functionCall": call if self.id is None else {"id": self.id, **call}}


WEATHER_CALL = Call("call_a", "get_weather", '{"city":"Paris"}')
TIME_CALL = Call("call_b", "get_time", '{"tz":"Europe/Paris"}')


def expect(*calls: Call) -> list[tuple[str | None, str, str]]:
    """What ``Answer.calls`` must hold for ``calls``."""
    return [(c.id, c.name, c.arguments) for c in calls]


def tool_result(call_id: str, content: Any, **extra: Any) -> dict[str, Any]:
    """An Anthropic ``tool_result`` block."""
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def function_response(call_id: str, name: str, response: dict[str, Any]) -> dict[str, Any]:
    """A Gemini ``functionResponse`` part."""
    return {"functionResponse": {"id": call_id, "name": name, "response": response}}


def replay(inbound: str, calls: Sequence[Call], results: Sequence[Any]) -> list[dict[str, Any]]:
    """ASK, the assistant's ``calls`` and then ``results``, in the client's format: OpenAI
    ``(call id, content)`` pairs, or Anthropic ``tool_result`` blocks."""
    if inbound == "openai":
        said = {"role": "assistant", "content": None, "tool_calls": [c.as_openai() for c in calls]}
        tool = [{"role": "tool", "tool_call_id": i, "content": text} for i, text in results]
        return [*ASK, said, *tool]
    said = {"role": "assistant", "content": [c.as_anthropic() for c in calls]}
    return [*ASK, said, {"role": "user", "content": list(results)}]


# -- what an upstream must receive -------------------------------------------------------------


def turn(upstream: str, role: str, text: str) -> dict[str, Any]:
    """A plain text turn as ``upstream`` must receive it (``role``: user or assistant)."""
    if WIRE[upstream] == "openai":
        return {"role": role, "content": text}
    if WIRE[upstream] == "anthropic":
        return {"role": role, "content": [{"type": "text", "text": text}]}
    return {"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]}


def generation(sent: dict[str, Any]) -> dict[str, Any]:
    """Gemini's ``generationConfig`` (empty when absent)."""
    config: dict[str, Any] = sent.get("generationConfig", {})
    return config


def max_tokens_sent(upstream: str, sent: dict[str, Any]) -> Any:
    """The output-token limit ``upstream`` received, in its own field (an OpenAI-format
    provider gets the field an OpenAI client used; from Anthropic clients, its own default)."""
    if upstream in ("openai", "compat"):
        return sent.get("max_completion_tokens", sent.get("max_tokens"))
    if upstream == "anthropic":
        return sent.get("max_tokens")
    return generation(sent).get("maxOutputTokens")


def choice_sent(upstream: str, sent: dict[str, Any]) -> Any:
    """The tool choice ``upstream`` received (Gemini: its ``functionCallingConfig``)."""
    if WIRE[upstream] != "gemini":
        return sent.get("tool_choice")
    return sent["toolConfig"]["functionCallingConfig"] if "toolConfig" in sent else None


# -- scripted replies, in each provider's wire format ------------------------------------------

_CACHED = {"cached_tokens": 4}
_OPENAI_USAGE = dict(prompt_tokens=12, completion_tokens=7, total_tokens=19)
_ANTHROPIC_USAGE = dict(input_tokens=8, cache_read_input_tokens=4, cache_creation_input_tokens=0)
_GEMINI_USAGE = dict(promptTokenCount=12, cachedContentTokenCount=4, candidatesTokenCount=7)


def _openai_body(model: str, message: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
    usage = {**_OPENAI_USAGE, "prompt_tokens_details": _CACHED}
    choice = {"index": 0, "message": message, "logprobs": None, **choice}
    head = {"id": "chatcmpl-matrix", "object": "chat.completion", "created": 1763400000}
    return {**head, "model": model, "choices": [choice], "usage": usage}


def _anthropic_message(
    content: list[Any], stop: str | None, sequence: str | None, usage: dict[str, int]
) -> dict[str, Any]:
    head = {"id": "msg_matrix", "type": "message", "role": "assistant"}
    return {
        **head,
        "model": "claude-sonnet-5-5",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": sequence,
        "usage": usage,
    }


def _gemini_chunk(
    parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    chunk = {"candidates": [candidate], "modelVersion": "gemini-3.5-flash", "responseId": "r-1"}
    return chunk if usage is None else {**chunk, "usageMetadata": usage}


def _half(text: str) -> tuple[str, str]:
    return text[: len(text) // 2], text[len(text) // 2 :]


def logprob(token: str) -> dict[str, Any]:
    """One token's ``logprobs.content`` entry, with itself as its one top alternative."""
    entry = {"token": token, "logprob": -0.01, "bytes": list(token.encode())}
    return {**entry, "top_logprobs": [entry]}


def _openai_stream(
    model: str, pieces: Sequence[str], calls: Sequence[Call], logprobs: bool
) -> list[Any]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **kw: Any) -> Any:
        return fake_openai.chunk(delta, finish, model=model, **kw)

    events = [chunk({"role": "assistant", "content": ""})]
    for p in pieces:
        events.append(chunk({"content": p}))
        if logprobs:
            events[-1]["choices"][0]["logprobs"] = {"content": [logprob(p)], "refusal": None}
    for i, c in enumerate(calls):
        head, tail = _half(c.arguments)
        first = {**c.as_openai(), "index": i, "function": {"name": c.name, "arguments": head}}
        events.append(chunk({"tool_calls": [first]}))
        events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": tail}}]}))
    events.append(chunk({}, "tool_calls" if calls else "stop"))
    usage = dict(prompt_tokens=100, completion_tokens=20, total_tokens=120)
    usage["prompt_tokens_details"] = {"cached_tokens": 40}  # type: ignore[assignment]
    return [*events, chunk(None, usage=usage), "[DONE]"]


def _anthropic_stream(pieces: Sequence[str], calls: Sequence[Call]) -> bytes:
    usage = dict(input_tokens=50, cache_creation_input_tokens=10, cache_read_input_tokens=40)
    start = _anthropic_message([], None, None, {**usage, "output_tokens": 1})
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]

    def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})

    if pieces:
        block(0, {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces])
        events.insert(2, {"type": "ping"})
    for index, c in enumerate(calls, start=1 if pieces else 0):
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _half(c.arguments)]
        block(index, {**c.as_anthropic(), "input": {}}, deltas)
    stop = {"stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None}
    events.append({"type": "message_delta", "delta": stop, "usage": {"output_tokens": 20}})
    events.append({"type": "message_stop"})
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def _gemini_stream(pieces: Sequence[str], calls: Sequence[Call]) -> list[dict[str, Any]]:
    first = dict(promptTokenCount=100, cachedContentTokenCount=40, totalTokenCount=100)
    chunks = [_gemini_chunk([{"text": p}], usage=first) for p in pieces]
    if calls:
        chunks.append(_gemini_chunk([c.as_gemini() for c in calls]))
    last = dict(first, candidatesTokenCount=15, thoughtsTokenCount=5, totalTokenCount=120)
    return [*chunks, _gemini_chunk([{"text": ""}], "STOP", usage=last)]


# -- what the client got -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A client's SDK-validated answer, summed up. ``calls``: (id, name, compact JSON args)."""

    text: str | None
    calls: list[tuple[str, str, str]]
    finish: str | None  # finish_reason or stop_reason, as the client's format says it
    raw: ChatCompletion | Message

    @classmethod
    def of(cls, got: ChatCompletion | Message) -> Answer:
        if isinstance(got, ChatCompletion):
            choice = got.choices[0]
            calls = [
                (c.id, c.function.name, c.function.arguments)
                for c in choice.message.tool_calls or []
            ]
            return cls(choice.message.content, calls, choice.finish_reason, got)
        texts = [b.text for b in got.content if b.type == "text"]
        uses = [b for b in got.content if b.type == "tool_use"]
        calls = [(b.id, b.name, json.dumps(b.input, separators=(",", ":"))) for b in uses]
        return cls("".join(texts) if texts else None, calls, got.stop_reason, got)

    def usage(self) -> tuple[int | None, ...]:
        """(prompt with the cache, cache read, cache written, output, reasoning) as the client
        saw them; Anthropic's ``input_tokens`` counts the prompt without the cache."""
        if isinstance(self.raw, ChatCompletion):
            u = self.raw.usage
            assert u is not None and u.prompt_tokens_details and u.completion_tokens_details
            assert u.total_tokens == u.prompt_tokens + u.completion_tokens
            cached, written = (
                u.prompt_tokens_details.cached_tokens,
                u.prompt_tokens_details.cache_write_tokens or 0,
            )
            reasoning = u.completion_tokens_details.reasoning_tokens
            return (u.prompt_tokens, cached, written, u.completion_tokens, reasoning)
        a = self.raw.usage
        read, written = a.cache_read_input_tokens or 0, a.cache_creation_input_tokens or 0
        thinking = a.output_tokens_details.thinking_tokens if a.output_tokens_details else 0
        return (a.input_tokens + read + written, read, written, a.output_tokens, thinking)


RAW_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
_STAGES = ("start", "delta", "stop")
_RAW_TYPES = {f"message_{s}" for s in _STAGES} | {f"content_block_{s}" for s in _STAGES}


@cache
def _openai_request_types() -> tuple[pydantic.TypeAdapter[Any], pydantic.TypeAdapter[Any]]:
    """The SDK's request types (non-streaming, streaming), as pydantic adapters."""
    p = completion_create_params
    return (
        pydantic.TypeAdapter(p.CompletionCreateParamsNonStreaming),
        pydantic.TypeAdapter(p.CompletionCreateParamsStreaming),
    )


@dataclass
class World:
    """The four fakes and the two SDK clients (pointed at the gateway) of one test module."""

    openai_fake: FakeOpenAI
    compat_fake: FakeOpenAI
    anthropic_fake: FakeAnthropic
    gemini_fake: FakeGemini
    oa: openai.OpenAI
    an: anthropic.Anthropic
    last_headers: Mapping[str, str] = field(default_factory=dict)  # of the last ``ask``

    def reset(self) -> None:
        for fake in (self.openai_fake, self.compat_fake):
            fake.requests.clear()
            fake.replies.clear()
        for other in (self.anthropic_fake, self.gemini_fake):
            other.received.clear()
            other.replies.clear()

    def _openai(self, upstream: str) -> FakeOpenAI:
        return self.openai_fake if upstream == "openai" else self.compat_fake

    # -- scripting the upstream ------------------------------------------------------------

    def script(
        self,
        upstream: str,
        text: str | None = "Hello from upstream.",
        calls: Sequence[Call] = (),
        finish: str | None = None,
        sequence: str | None = None,
        openai_choice: dict[str, Any] | None = None,
    ) -> None:
        """Queue one non-streamed answer; ``finish``: stop, length, stop_sequence, tool_calls."""
        raw = FINISH[WIRE[upstream]][finish or ("tool_calls" if calls else "stop")]
        if WIRE[upstream] == "openai":
            message = {"role": "assistant", "content": text, "refusal": None}
            if calls:
                message["tool_calls"] = [c.as_openai() for c in calls]  # type: ignore[assignment]
            choice = {"finish_reason": raw, **(openai_choice or {})}
            body = _openai_body(UPSTREAM_MODEL[upstream], message, choice)
            self._openai(upstream).push(fake_openai.Reply.json(200, body))
        elif upstream == "anthropic":
            blocks = ([{"type": "text", "text": text}] if text else []) + [
                c.as_anthropic() for c in calls
            ]
            usage = {**_ANTHROPIC_USAGE, "output_tokens": 7}
            reply = json.dumps(_anthropic_message(blocks, raw, sequence, usage))
            self.anthropic_fake.push(fake_anthropic.Reply(body=reply.encode()))
        else:
            parts = ([{"text": text}] if text else []) + [c.as_gemini() for c in calls]
            self.script_gemini(parts, raw)

    def script_gemini(self, parts: list[dict[str, Any]], finish: str = "STOP") -> None:
        """Queue a Gemini answer made of ``parts`` as they are."""
        usage = {**_GEMINI_USAGE, "totalTokenCount": 19}
        self.gemini_fake.push(fake_gemini.Reply.json(_gemini_chunk(parts, finish, usage)))

    def script_stream(
        self, upstream: str, pieces: Sequence[str], calls: Sequence[Call], logprobs: bool = False
    ) -> None:
        """Queue one streamed answer: ``pieces`` of text (OpenAI format: with their
        ``logprobs`` if asked), then ``calls`` (arguments split in two)."""
        if WIRE[upstream] == "openai":
            events = _openai_stream(UPSTREAM_MODEL[upstream], pieces, calls, logprobs)
            self._openai(upstream).push(fake_openai.Reply.stream(events))
        elif upstream == "anthropic":
            body = _anthropic_stream(pieces, calls)
            self.anthropic_fake.push(fake_anthropic.Reply(body=body, stream=True))
        else:
            self.gemini_fake.push(fake_gemini.Reply.sse(_gemini_stream(pieces, calls)))

    # -- what the upstream received --------------------------------------------------------

    def received(self, upstream: str) -> list[tuple[str, Any]]:
        """(path with query, JSON body) of every request ``upstream`` got."""
        if WIRE[upstream] == "openai":
            return [(r.path, r.body) for r in self._openai(upstream).requests]
        if upstream == "anthropic":
            return [(r.path, r.json) for r in self.anthropic_fake.received]
        return [
            (r.path + "".join(f"?{k}={v}" for k, v in r.query.items()), r.json)
            for r in self.gemini_fake.received
        ]

    def sent(self, upstream: str, *, stream: bool = False, index: int = 0) -> dict[str, Any]:
        """Request ``index`` (the last one) ``upstream`` received, endpoint and model checked."""
        received = self.received(upstream)
        assert len(received) == index + 1, f"{upstream} received {len(received)} requests"
        path, body = received[index]
        model = UPSTREAM_MODEL[upstream]
        assert isinstance(body, dict)
        if WIRE[upstream] == "gemini":
            action = "streamGenerateContent?alt=sse" if stream else "generateContent"
            assert path == f"/v1beta/models/{model}:{action}"
            return body
        assert path == ("/v1/chat/completions" if WIRE[upstream] == "openai" else "/v1/messages")
        assert body["model"] == model
        assert bool(body.get("stream")) is stream
        if WIRE[upstream] == "openai":  # the Anthropic fake checks its own requests
            problem = validate(_openai_request_types()[stream], body)
            assert problem is None, f"not a valid OpenAI request: {problem}"
        return body

    # -- calling the gateway ---------------------------------------------------------------

    def ask(self, inbound: str, upstream: str, **params: Any) -> Answer:
        """One non-streamed call in ``inbound`` format; the answer must name the model asked."""
        got: ChatCompletion | Message
        if inbound == "openai":
            raw = self.oa.chat.completions.with_raw_response.create(model=MODEL[upstream], **params)
            got = ChatCompletion.model_validate_json(raw.http_response.text)
            self.last_headers = raw.http_response.headers
        else:
            params.setdefault("max_tokens", 256)
            raw_an = self.an.messages.with_raw_response.create(model=MODEL[upstream], **params)
            got = Message.model_validate_json(raw_an.http_response.text)
            self.last_headers = raw_an.http_response.headers
        assert got.model == MODEL[upstream]
        return Answer.of(got)

    def ask_stream(self, inbound: str, upstream: str, **params: Any) -> Answer:
        """One call through the SDK's stream helper; every chunk or raw event is validated."""
        got: ChatCompletion | Message
        if inbound == "openai":
            options = {"include_usage": True}
            model = MODEL[upstream]
            with self.oa.chat.completions.stream(
                model=model, stream_options=options, **params
            ) as s:
                for event in s:
                    if event.type == "chunk":
                        ChatCompletionChunk.model_validate(event.chunk.to_dict())
                got = ChatCompletion.model_validate(s.get_final_completion().to_dict())
        else:
            kinds = []
            params.setdefault("max_tokens", 256)
            with self.an.messages.stream(model=MODEL[upstream], **params) as an_stream:
                for an_event in an_stream:
                    if an_event.type in _RAW_TYPES:
                        RAW_EVENT.validate_python(an_event.to_dict())
                        kinds.append(an_event.type)
                got = Message.model_validate(an_stream.get_final_message().to_dict())
            assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        assert got.model == MODEL[upstream]
        return Answer.of(got)

    def refused(self, inbound: str, upstream: str, words: Sequence[str], **params: Any) -> str:
        """Assert ``ask(**params)`` gets a 400 in the client's format whose message holds every
        one of ``words``, and that nothing reached the upstream."""
        self.script(upstream)  # so that a request let through answers, and the cell says so
        before = len(self.received(upstream))
        if inbound == "openai":
            with pytest.raises(openai.BadRequestError) as oa_info:
                self.ask(inbound, upstream, **params)
            body = oa_info.value.response.json()
            assert set(body) == {"error"}
            error = ErrorObject.model_validate(body["error"])
            assert error.type == "invalid_request_error"
            message = error.message
        else:
            with pytest.raises(anthropic.BadRequestError) as an_info:
                self.ask(inbound, upstream, **params)
            envelope = ErrorResponse.model_validate(an_info.value.response.json())
            assert envelope.type == "error" and envelope.error.type == "invalid_request_error"
            message = envelope.error.message
        for word in words:
            assert word in message, f"{word!r} not in {message!r}"
        assert len(self.received(upstream)) == before, "a refused request reached the provider"
        return message


async def _add_provider_keys(config: Config, urls: list[str], prompt_cache: bool) -> None:
    services = await Services.open(config)
    try:
        if not prompt_cache:  # the translation exactly, without keyroute's own cache hints
            await services.control.caching.update("default", {"prompt_cache": "off"})
        add = services.control.add_provider_key
        await add("default", "openai", UPSTREAM_KEY, base_url=urls[0] + "/v1")
        compat = urls[1] + "/v1"
        await add("default", "openai-compatible", UPSTREAM_KEY, name="compat", base_url=compat)
        await add("default", "anthropic", ANTHROPIC_KEY, base_url=urls[2])
        await add("default", "gemini", GEMINI_KEY, base_url=urls[3])
    finally:
        await services.close()


@contextmanager
def open_world(
    data_dir: Path, wrap: Callable[[Any], Any] | None = None, *, prompt_cache: bool = True
) -> Iterator[World]:
    """The fakes, the gateway (with a provider key for each fake) and the SDK clients;
    ``wrap`` wraps the gateway's ASGI app (to record what clients send); ``prompt_cache``
    False switches the workspace's automatic prompt caching off."""
    openai_fake, compat_fake = FakeOpenAI(), FakeOpenAI()
    anthropic_fake = create_fake_anthropic(api_key=ANTHROPIC_KEY)
    gemini_fake = create_fake_gemini(GEMINI_KEY)
    config = load(env={"KEYROUTE_DATA_DIR": str(data_dir)})
    api_key = asyncio.run(initialise(config)).details["api_key"]
    with ExitStack() as stack:
        apps = (openai_fake.app, compat_fake.app, anthropic_fake.app, gemini_fake)
        urls = [stack.enter_context(serve(a)) for a in apps]
        asyncio.run(_add_provider_keys(config, urls, prompt_cache))
        app = create_app(Services.build(config))
        served = wrap(app) if wrap else app
        url = stack.enter_context(serve(served, uvicorn_options(config.server)))
        oa = openai.OpenAI(base_url=url + "/v1", api_key=api_key, max_retries=0)
        an = anthropic.Anthropic(base_url=url, api_key=api_key, max_retries=0)
        clients = {"oa": stack.enter_context(oa), "an": stack.enter_context(an)}
        yield World(openai_fake, compat_fake, anthropic_fake, gemini_fake, **clients)


def cells(
    inbounds: Sequence[str] = INBOUNDS,
    upstreams: Sequence[str] = UPSTREAMS,
    bugs: Mapping[tuple[str, str], str] | None = None,
) -> list[Any]:
    """``(inbound, upstream)`` parameters; a cell in ``bugs`` is a strict xfail with its reason."""
    params = []
    for inbound in inbounds:
        for upstream in upstreams:
            reason = (bugs or {}).get((inbound, upstream))
            marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {reason}")] if reason else []
            params.append(pytest.param(inbound, upstream, id=f"{inbound}>{upstream}", marks=marks))
    return params
