"""The OpenAI goldens are what OpenAI's API sends: every body validates against the official SDK.

Responses and chunks are validated with ``ChatCompletion`` / ``ChatCompletionChunk`` and may not
carry a field the SDK does not know (the SDK models accept extras silently); in-stream errors and
error bodies with ``ErrorObject``; requests with ``CompletionCreateParams``. The remaining tests
pin what each case is there to show (split tool-call fragments, the usage chunk, the cut stream).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai import BaseModel
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat import completion_create_params as params
from openai.types.shared import ErrorObject

from keyroute.wire.sse import SSEParser

FOLDER = Path(__file__).resolve().parents[1] / "transcripts" / "openai"
REQUEST_KEYS = params.CompletionCreateParamsBase.__required_keys__ | {"stream"}
REQUEST_KEYS |= params.CompletionCreateParamsBase.__optional_keys__


def names(kind: str) -> list[str]:
    return sorted(p.name.removesuffix(f".{kind}") for p in FOLDER.glob(f"*.{kind}"))


def load(name: str) -> Any:
    return json.loads((FOLDER / name).read_bytes())


def strict(model: BaseModel, where: str = "") -> None:
    """No field anywhere in ``model`` that the SDK does not declare."""
    assert not model.model_extra, f"{where}: unknown fields {sorted(model.model_extra or ())}"
    for field in type(model).model_fields:
        strict_value(getattr(model, field), f"{where}.{field}")


def strict_value(value: Any, where: str) -> None:
    if isinstance(value, BaseModel):
        strict(value, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            strict_value(item, f"{where}[{i}]")


def drain(value: Any) -> None:
    """Force the SDK's lazily validated ``Iterable`` fields."""
    if isinstance(value, dict):
        for item in value.values():
            drain(item)
    elif isinstance(value, (list, tuple)) or hasattr(value, "__next__"):
        for item in value:
            drain(item)


def chunks(case: str) -> list[Any]:
    """The ``data`` of every event, parsed (``[DONE]`` kept as the string)."""
    raw = (FOLDER / f"{case}.stream.sse").read_bytes()
    assert raw.endswith(b"\n\n") and b"\r" not in raw
    assert all(line.startswith(b"data: ") for line in raw.split(b"\n") if line)
    return [e.data if e.data == "[DONE]" else json.loads(e.data) for e in SSEParser().feed(raw)]


@pytest.mark.parametrize("case", names("request.json"))
def test_requests_validate(case: str) -> None:
    body = load(f"{case}.request.json")
    assert set(body) <= REQUEST_KEYS
    kind = params.CompletionCreateParamsStreaming if body.get("stream") else None
    adapter = pydantic.TypeAdapter[Any](kind or params.CompletionCreateParamsNonStreaming)
    drain(adapter.validate_python(body))
    assert body["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("case", names("response.json"))
def test_responses_validate(case: str) -> None:
    completion = ChatCompletion.model_validate(load(f"{case}.response.json"))
    strict(completion, case)
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


@pytest.mark.parametrize("case", names("stream.sse"))
def test_stream_chunks_validate(case: str) -> None:
    data = chunks(case)
    assert data.count("[DONE]") <= 1 and "[DONE]" not in data[:-1]
    heads = set()
    for item in data:
        if item == "[DONE]":
            continue
        if "error" in item:
            assert set(item) == {"error"}
            strict(ErrorObject.model_validate(item["error"]), case)
            continue
        chunk = ChatCompletionChunk.model_validate(item)
        strict(chunk, case)
        heads.add((chunk.id, chunk.created, chunk.model, chunk.system_fingerprint))
    assert len(heads) == 1, "every chunk of a stream repeats one id, created, model"


def test_streaming_usage_ends_with_a_usage_chunk() -> None:
    assert load("streaming_usage.request.json")["stream_options"] == {"include_usage": True}
    data = chunks("streaming_usage")
    *body, last, done = data
    assert done == "[DONE]"
    assert all("usage" in c and c["usage"] is None for c in body), "include_usage: usage: null"
    assert body[-1]["choices"][0]["finish_reason"] == "stop"
    final = ChatCompletionChunk.model_validate(last)
    assert final.choices == [] and final.usage is not None
    details = final.usage.prompt_tokens_details
    assert details is not None and details.cached_tokens


def test_streaming_tool_calls_are_split_across_chunks() -> None:
    data = chunks("streaming_tool_calls")
    assert data[-1] == "[DONE]"
    fragments: dict[int, list[str]] = {}
    for item in data[:-1]:
        for choice in ChatCompletionChunk.model_validate(item).choices:
            for call in choice.delta.tool_calls or ():
                if call.function is not None and call.function.arguments:
                    fragments.setdefault(call.index, []).append(call.function.arguments)
    assert sorted(fragments) == [0, 1]
    for parts in fragments.values():
        assert len(parts) > 1
        json.loads("".join(parts))


@pytest.mark.parametrize("case", ["truncated_stream", "stream_error"])
def test_cut_streams_have_no_end(case: str) -> None:
    data = chunks(case)
    assert "[DONE]" not in data
    assert not any(c.get("choices") and c["choices"][0]["finish_reason"] for c in data)
    assert ("error" in data[-1]) == (case == "stream_error")


@pytest.mark.parametrize("case", names("error.json"))
def test_errors_validate(case: str) -> None:
    spec = load(f"{case}.error.json")
    assert set(spec) == {"status", "headers", "body"}
    assert case == f"error_{spec['status']}"
    assert all(k == k.lower() for k in spec["headers"])
    assert spec["headers"]["content-type"] == "application/json"
    assert set(spec["body"]) == {"error"}
    strict(ErrorObject.model_validate(spec["body"]["error"]), case)


def test_rate_limit_error_says_when_to_retry() -> None:
    headers = load("error_429.error.json")["headers"]
    assert float(headers["retry-after"]) > 0
    assert {
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
    } <= set(headers)
