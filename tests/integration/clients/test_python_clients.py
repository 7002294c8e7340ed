"""The Python agent frameworks (pinned in requirements-dev) through keyroute to each provider:
LangChain (``langchain-openai``, ``langchain-anthropic``), pydantic-ai (``OpenAIChatModel``,
``AnthropicModel``) and the OpenAI Agents SDK with chat completions.

Each framework is used as its documentation shows, with only the base URL and key pointing at
the gateway (``python_clients.py``). A cell checks what the framework got, what the provider
received in its own format, and the shape of what the framework sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.clients.python_clients import (
    CLIENTS,
    STREAMS,
    STRUCTURED_BY_TOOL,
    WEATHER,
    make,
)
from tests.integration.clients.recorder import Recorder, check_transcript
from tests.integration.clients.test_node_clients import (
    UPSTREAMS,
    script,
    structured_request,
    tool_results,
    tools_sent,
)
from tests.integration.matrix_cases import MODEL, TIME_CALL, WEATHER_CALL, Call, World

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("collect_leaks")]


def client_of(w: World, name: str) -> Any:
    return make(name, str(w.an.base_url).rstrip("/"), w.an.api_key or "")


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_chat_and_stream(w: World, recorder: Recorder, client: str, upstream: str) -> None:
    framework = client_of(w, client)
    script(w, upstream, STREAMS[client]["chat"], "Hello there.")
    assert framework.chat(MODEL[upstream]) == "Hello there."
    script(w, upstream, STREAMS[client]["stream"], "Hello there.")
    assert framework.stream(MODEL[upstream]) == "Hello there."
    assert len(w.received(upstream)) == 2
    check_transcript(client, f"chat-to-{upstream}", recorder.sent[0])
    check_transcript(client, f"stream-to-{upstream}", recorder.sent[1])


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_parallel_tool_round_trip(w: World, recorder: Recorder, client: str, upstream: str) -> None:
    first, second = STREAMS[client]["tools"]
    script(w, upstream, first, None, (WEATHER_CALL, TIME_CALL))
    script(w, upstream, second, "21°C at 14:00.")
    text, calls = client_of(w, client).tools(MODEL[upstream])
    assert text == "21°C at 14:00."
    assert calls == [(c.id, c.name, json.loads(c.arguments)) for c in (WEATHER_CALL, TIME_CALL)]
    received = w.received(upstream)
    assert len(received) == 2
    assert tool_results(upstream, received[1][1]) == [("call_a", "21°C"), ("call_b", "14:00")]
    check_transcript(client, f"tools-to-{upstream}", recorder.sent)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_structured_output(w: World, recorder: Recorder, client: str, upstream: str) -> None:
    tool = STRUCTURED_BY_TOOL.get(client)
    if tool is not None:
        answer = Call("call_out", tool, json.dumps(WEATHER, separators=(",", ":")))
        script(w, upstream, STREAMS[client]["structured"], None, (answer,))
    else:
        script(w, upstream, STREAMS[client]["structured"], json.dumps(WEATHER))
    assert client_of(w, client).structured(MODEL[upstream]) == WEATHER
    ((_, body),) = w.received(upstream)
    if tool is not None:
        assert tools_sent(upstream, body) == [tool]
    else:
        assert structured_request(upstream, body)["required"] == ["city", "temperature"]
    check_transcript(client, f"structured-to-{upstream}", recorder.sent[0])
