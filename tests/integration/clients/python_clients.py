"""The Python agent frameworks as a user writes them, pointed at keyroute by base URL and key.

Each client answers four calls the suite makes against every provider:

- ``chat(model)`` and ``stream(model)``: the answer's text to "Hi";
- ``tools(model)``: a parallel tool call round trip (the framework runs ``get_weather`` and
  ``get_time`` and sends both results back); returns the final text and the calls it ran;
- ``structured(model)``: a ``Weather`` object.

``STREAMS`` says which calls the framework streams (the fake must answer in kind), and
``STRUCTURED_BY_TOOL`` which frameworks ask for structured output through a forced tool call
(named as the value) rather than a JSON schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

WEATHER = {"city": "Paris", "temperature": 21}
ASK = "Weather in Paris, and the time there?"
RESULTS = {"get_weather": "21°C", "get_time": "14:00"}


class Weather(pydantic.BaseModel):
    city: str
    temperature: int


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return RESULTS["get_weather"]


def get_time(tz: str) -> str:
    """Local time in a time zone."""
    return RESULTS["get_time"]


Calls = list[tuple[str, str, dict[str, Any]]]


@dataclass
class PythonClient:
    chat: Callable[[str], str]
    stream: Callable[[str], str]
    tools: Callable[[str], tuple[str, Calls]]
    structured: Callable[[str], dict[str, Any]]


# -- LangChain -----------------------------------------------------------------------------


def langchain(kind: str, base: str, key: str) -> PythonClient:
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool

    def model(name: str) -> Any:
        if kind == "openai":
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(model=name, base_url=f"{base}/v1", api_key=key, max_retries=0)
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(model=name, base_url=base, api_key=key, max_retries=0)  # type: ignore[call-arg]

    def text(message: BaseMessage) -> str:
        return message.text if isinstance(message.text, str) else message.text()

    def stream(name: str) -> str:
        return "".join(text(chunk) for chunk in model(name).stream("Hi"))

    def tools(name: str) -> tuple[str, Calls]:
        funcs = {"get_weather": tool(get_weather), "get_time": tool(get_time)}
        bound = model(name).bind_tools(list(funcs.values()))
        history: list[BaseMessage] = [HumanMessage(ASK)]
        said = bound.invoke(history)
        assert isinstance(said, AIMessage)
        history.append(said)
        for call in said.tool_calls:
            result = funcs[call["name"]].invoke(call["args"])
            history.append(ToolMessage(result, tool_call_id=call["id"]))
        calls = [(c["id"] or "", c["name"], c["args"]) for c in said.tool_calls]
        return text(bound.invoke(history)), calls

    def structured(name: str) -> dict[str, Any]:
        got = model(name).with_structured_output(Weather).invoke("Hi")
        assert isinstance(got, Weather)
        return got.model_dump()

    return PythonClient(
        chat=lambda name: text(model(name).invoke("Hi")),
        stream=stream,
        tools=tools,
        structured=structured,
    )


# -- pydantic-ai ---------------------------------------------------------------------------


def pydantic_ai(kind: str, base: str, key: str) -> PythonClient:
    from pydantic_ai import Agent

    def model(name: str) -> Any:
        if kind == "openai":
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            return OpenAIChatModel(
                name, provider=OpenAIProvider(base_url=f"{base}/v1", api_key=key)
            )
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(name, provider=AnthropicProvider(base_url=base, api_key=key))

    def stream(name: str) -> str:
        async def run() -> str:
            async with Agent(model(name)).run_stream("Hi") as result:
                return "".join([piece async for piece in result.stream_text(delta=True)])

        return asyncio.run(run())

    def tools(name: str) -> tuple[str, Calls]:
        agent = Agent(model(name), tools=[get_weather, get_time])
        result = agent.run_sync(ASK)
        calls = [
            (part.tool_call_id, part.tool_name, part.args_as_dict())
            for message in result.all_messages()
            for part in getattr(message, "parts", ())
            if part.part_kind == "tool-call"
        ]
        return result.output, calls

    def structured(name: str) -> dict[str, Any]:
        return Agent(model(name), output_type=Weather).run_sync("Hi").output.model_dump()

    return PythonClient(
        chat=lambda name: Agent(model(name)).run_sync("Hi").output,
        stream=stream,
        tools=tools,
        structured=structured,
    )


# -- OpenAI Agents SDK (chat completions) --------------------------------------------------


def openai_agents(base: str, key: str) -> PythonClient:
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )
    from openai import AsyncOpenAI

    set_tracing_disabled(True)  # traces go to OpenAI's servers

    def agent(name: str, **options: Any) -> Any:
        client = AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        chat = OpenAIChatCompletionsModel(model=name, openai_client=client)
        return Agent(name="keyroute", instructions="Be brief.", model=chat, **options)

    def stream(name: str) -> str:
        async def run() -> str:
            result = Runner.run_streamed(agent(name), "Hi")
            async for _ in result.stream_events():
                pass
            return str(result.final_output)

        return asyncio.run(run())

    def tools(name: str) -> tuple[str, Calls]:
        funcs = [function_tool(get_weather), function_tool(get_time)]
        result = Runner.run_sync(agent(name, tools=funcs), ASK)
        calls = [
            (item.raw_item.call_id, item.raw_item.name, _json(item.raw_item.arguments))
            for item in result.new_items
            if item.type == "tool_call_item"
        ]
        return str(result.final_output), calls

    def structured(name: str) -> dict[str, Any]:
        got = Runner.run_sync(agent(name, output_type=Weather), "Hi").final_output
        assert isinstance(got, Weather)
        return got.model_dump()

    return PythonClient(
        chat=lambda name: str(Runner.run_sync(agent(name), "Hi").final_output),
        stream=stream,
        tools=tools,
        structured=structured,
    )


def _json(text: str) -> dict[str, Any]:
    import json

    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def make(client: str, base: str, key: str) -> PythonClient:
    """The client named ``client`` (see ``CLIENTS``), pointed at the gateway."""
    if client == "openai-agents":
        return openai_agents(base, key)
    family, kind = client.rsplit("-", 1)
    return (langchain if family == "langchain" else pydantic_ai)(kind, base, key)


CLIENTS = (
    "langchain-openai",
    "langchain-anthropic",
    "pydantic_ai-openai",
    "pydantic_ai-anthropic",
    "openai-agents",
)
# True where the framework streams: chat, stream, tools (first call, second call), structured.
STREAMS: dict[str, dict[str, Any]] = {
    "langchain-openai": {
        "chat": False,
        "stream": True,
        "tools": (False, False),
        "structured": False,
    },
    "langchain-anthropic": {
        "chat": False,
        "stream": True,
        "tools": (False, False),
        "structured": False,
    },
    "pydantic_ai-openai": {
        "chat": False,
        "stream": True,
        "tools": (False, False),
        "structured": False,
    },
    "pydantic_ai-anthropic": {
        "chat": False,
        "stream": True,
        "tools": (False, False),
        "structured": False,
    },
    "openai-agents": {"chat": False, "stream": True, "tools": (False, False), "structured": False},
}
STRUCTURED_BY_TOOL = {
    "langchain-anthropic": "Weather",
    "pydantic_ai-openai": "final_result",
    "pydantic_ai-anthropic": "final_result",
}
