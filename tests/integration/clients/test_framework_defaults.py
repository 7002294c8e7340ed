"""Framework defaults that used to hit refusals, each through keyroute to every provider:

- langchain-openai's ``with_structured_output(method="function_calling")`` sends
  ``parallel_tool_calls: false`` (Gemini cannot forbid parallel calls: keyroute keeps the first);
- a failed tool run as LangGraph's ``ToolNode`` reports it to ``ChatAnthropic`` (a
  ``ToolMessage`` with ``status="error"``), and pydantic-ai's retry after a tool's
  ``ModelRetry`` through ``AnthropicModel``: both become ``is_error: true`` tool results, which
  reach OpenAI-format and Gemini models as an error they can read;
- LangChain's ``OpenAIEmbeddings``: text inputs (``check_embedding_ctx_length=False``) embed on
  Gemini; the token ids it sends by default (the same body) get a 400 naming ``input``.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.fakes import fake_gemini
from tests.integration.clients.python_clients import WEATHER, Weather, get_weather
from tests.integration.clients.recorder import Recorder, check_transcript
from tests.integration.clients.test_node_clients import UPSTREAMS, tools_sent
from tests.integration.matrix_cases import MODEL, WEATHER_CALL, WIRE, Call, World

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("collect_leaks")]
BOTH = (WEATHER_CALL, Call("call_z", "Weather", json.dumps({"city": "Oslo", "temperature": 3})))


def base(w: World) -> tuple[str, str]:
    return str(w.an.base_url).rstrip("/"), w.an.api_key or ""


def error_result(upstream: str, body: dict[str, Any]) -> Any:
    """The failed tool result the provider received, in its own format."""
    if WIRE[upstream] == "openai":
        return [m["content"] for m in body["messages"] if m["role"] == "tool"][-1]
    if WIRE[upstream] == "anthropic":
        blocks = [b for m in body["messages"] for b in m["content"] if isinstance(b, dict)]
        return [b for b in blocks if b.get("type") == "tool_result"][-1]
    parts = [p for c in body["contents"] for p in c["parts"] if "functionResponse" in p]
    return parts[-1]["functionResponse"]["response"]


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_langchain_function_calling_structured_output(
    w: World, recorder: Recorder, upstream: str
) -> None:
    from langchain_openai import ChatOpenAI

    gateway, key = base(w)
    answer = Call("call_w", "Weather", json.dumps(WEATHER, separators=(",", ":")))
    calls = (answer, *BOTH) if upstream == "gemini" else (answer,)  # Gemini may call again
    w.script(upstream, text=None, calls=calls)
    model = ChatOpenAI(model=MODEL[upstream], base_url=f"{gateway}/v1", api_key=key, max_retries=0)
    got = model.with_structured_output(Weather, method="function_calling").invoke("Hi")
    assert got == Weather(**WEATHER)
    ((_, body),) = w.received(upstream)
    assert tools_sent(upstream, body) == ["Weather"]
    assert recorder.sent[0].body["parallel_tool_calls"] is False
    first_only = recorder.sent[0].answer_headers.get("x-keyroute-parallel-tool-calls")
    assert first_only == ("first-only" if upstream == "gemini" else None)
    check_transcript("langchain-openai", "function-calling-structured", recorder.sent[0])


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_langchain_anthropic_tool_error(w: World, recorder: Recorder, upstream: str) -> None:
    from langchain_anthropic import ChatAnthropic
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    gateway, key = base(w)
    w.script(upstream, text="Paris is unknown to the tool.")
    model = ChatAnthropic(  # type: ignore[call-arg]
        model=MODEL[upstream], base_url=gateway, api_key=key, max_retries=0
    )
    call = {"id": "call_a", "name": "get_weather", "args": {"city": "Paris"}}
    history = [
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[call]),
        # What LangGraph's ToolNode sends back when the tool raised.
        ToolMessage("Error: city not found", tool_call_id="call_a", status="error"),
    ]
    from langchain_core.tools import tool

    said = model.bind_tools([tool(get_weather)]).invoke(history)
    assert said.text == "Paris is unknown to the tool."
    assert recorder.sent[0].body["messages"][-1]["content"][0]["is_error"] is True
    ((_, body),) = w.received(upstream)
    sent = error_result(upstream, body)
    if WIRE[upstream] == "anthropic":
        assert sent["is_error"] is True
    elif WIRE[upstream] == "openai":
        assert json.loads(sent) == {"error": "Error: city not found"}
    else:
        assert sent == {"error": "Error: city not found"}
    check_transcript("langchain-anthropic", "tool-error", recorder.sent[0])


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_pydantic_ai_retry_through_anthropic_model(
    w: World, recorder: Recorder, upstream: str
) -> None:
    from pydantic_ai import Agent, ModelRetry
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    def lookup(city: str) -> str:
        """Current weather for a city."""
        raise ModelRetry("Unknown city, use its English name.")

    gateway, key = base(w)
    w.script(upstream, text=None, calls=[Call("call_a", "lookup", '{"city":"Parigi"}')])
    w.script(upstream, text="I could not find it.")
    model = AnthropicModel(
        MODEL[upstream], provider=AnthropicProvider(base_url=gateway, api_key=key)
    )
    assert (
        Agent(model, tools=[lookup]).run_sync("Weather in Parigi?").output == "I could not find it."
    )
    second = w.received(upstream)[1][1]
    sent = error_result(upstream, second)
    if WIRE[upstream] == "anthropic":
        assert sent["is_error"] is True
    else:
        text = json.loads(sent) if WIRE[upstream] == "openai" else sent
        assert "Unknown city" in str(text["error"])
    check_transcript("pydantic_ai-anthropic", "tool-retry", recorder.sent[1])


def test_langchain_embeddings_on_gemini(w: World, recorder: Recorder) -> None:
    from langchain_openai import OpenAIEmbeddings

    gateway, key = base(w)
    vectors = {"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}
    w.gemini_fake.push(fake_gemini.Reply.json(vectors))
    embeddings = OpenAIEmbeddings(
        model="gemini/gemini-embedding-001",
        base_url=f"{gateway}/v1",
        api_key=key,  # type: ignore[arg-type]
        check_embedding_ctx_length=False,  # texts: the default sends token ids
        max_retries=0,
    )
    got = embeddings.embed_documents(["first", "second"])  # float32 on the wire (base64)
    assert [pytest.approx(v, rel=1e-6) for v in ([0.1, 0.2], [0.3, 0.4])] == got
    check_transcript("langchain-openai", "embeddings-texts", recorder.sent[0])
    # The default (check_embedding_ctx_length=True) sends the texts as tiktoken ids, like this.
    with pytest.raises(openai.BadRequestError) as refused:
        w.oa.embeddings.create(model="gemini/gemini-embedding-001", input=[[8176], [5686]])
    error = refused.value.response.json()["error"]
    assert error["param"] == "input" and "check_embedding_ctx_length=False" in error["message"]
