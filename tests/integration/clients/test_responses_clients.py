"""Responses API clients through keyroute to OpenAI, Anthropic and Gemini models: the OpenAI
Agents SDK with its default model (a small agent with a function tool), and the Vercel AI SDK's
default ``openai(id)`` model (``generateText``; ``streamText`` with tools, run by the SDK)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest
from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.models.multi_provider import MultiProvider

from tests.integration.clients.test_node_clients import run
from tests.integration.matrix_cases import MODEL, TIME_CALL, WEATHER_CALL, World

pytestmark = pytest.mark.integration
UPSTREAMS = ("openai", "anthropic", "gemini")


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}, 21C"


@pytest.mark.usefixtures("collect_leaks")
@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_agents_sdk_runs_a_tool(w: World, upstream: str) -> None:
    w.script(upstream, text=None, calls=[WEATHER_CALL])
    w.script(upstream, text="It is sunny in Paris.")
    client = openai.AsyncOpenAI(base_url=str(w.oa.base_url), api_key=w.oa.api_key, max_retries=0)
    # Namespaced model ids (``anthropic/...``) go to keyroute as they are.
    provider = MultiProvider(
        openai_client=client, openai_prefix_mode="model_id", unknown_prefix_mode="model_id"
    )
    agent = Agent(
        name="weather", instructions="Use tools.", tools=[get_weather], model=MODEL[upstream]
    )
    set_tracing_disabled(True)

    async def main() -> str:
        try:
            config = RunConfig(model_provider=provider)
            result = await Runner.run(agent, "Weather in Paris?", run_config=config)
            return str(result.final_output)
        finally:
            await client.close()

    assert asyncio.run(main()) == "It is sunny in Paris."
    received = w.received(upstream)
    assert len(received) == 2
    assert "Sunny in Paris, 21C" in json.dumps(received[1][1])  # the tool ran, its result went up


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_vercel_ai_sdk_default_openai_model(w: World, node_clients: Path, upstream: str) -> None:
    w.script(upstream, text="Hello there.")
    assert run(node_clients, w, "ai-responses", "chat", upstream) == {"text": "Hello there."}
    w.script_stream(upstream, [], [WEATHER_CALL, TIME_CALL])
    w.script_stream(upstream, ["It is 21C ", "at 14:00."], [])
    got = run(node_clients, w, "ai-responses", "tools", upstream)
    assert got["text"] == "It is 21C at 14:00.", got
    assert [c[1] for c in got["calls"]] == ["get_weather", "get_time"]
    second = json.dumps(w.received(upstream)[-1][1])
    assert "21" in second and "14:00" in second  # both tool results went up
