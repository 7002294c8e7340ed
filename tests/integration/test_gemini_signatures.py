"""Gemini thought signatures survive an OpenAI client that cannot carry them.

The client never sees ``thoughtSignature``; the gateway records it under the tool call's id and
puts it back, verbatim, when the client replays that call on the next turn.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import openai
import pytest

from keyroute.storage.sqlite import sqlite_path
from tests.fakes.fake_gemini import DEFAULT_API_KEY, Reply, create_fake_gemini
from tests.fakes.server import serve
from tests.integration.conftest import Gateway, running_gateway

pytestmark = pytest.mark.integration
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "gemini"
SIGNED = {
    False: (
        "thought_signatures.response.json",
        "EpwCCpkCAdHtim9Kq3vX1oM8cP0nR4sT7uV2wY5zA6bC9dE1fG3hI8jK0lL2mN4oP6qR8sT0uV==",
    ),
    True: (
        "streaming_parallel_tool_calls.stream.sse",
        "CiQBjz1rX8mKuT0xQ2Pp7bJc4aQ9hXnYw6oM1LrVZ3fKp0sTgEiQBjz1rXwq+Zc/8UJ5h0N2r1dA==",
    ),
}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def first_turn(client: openai.OpenAI, question: dict[str, Any], stream: bool) -> Any:
    if not stream:
        return (
            client.chat.completions.create(
                model="gemini/gemini-3.5-flash", messages=[question], tools=TOOLS
            )
            .choices[0]
            .message
        )
    with client.chat.completions.stream(
        model="gemini/gemini-3.5-flash", messages=[question], tools=TOOLS
    ) as events:
        return events.get_final_completion().choices[0].message


@pytest.mark.parametrize(
    ("first_stream", "second_stream"), [(False, False), (False, True), (True, False)]
)
def test_signature_is_replayed_across_turns(
    gateway: Gateway, first_stream: bool, second_stream: bool
) -> None:
    transcript, signature = SIGNED[first_stream]
    fake = create_fake_gemini()
    with serve(fake) as url:
        gateway.control(
            lambda c: c.add_provider_key("default", "gemini", DEFAULT_API_KEY, base_url=url)
        )
        fake.push(Reply.transcript(TRANSCRIPTS / transcript))
        question = {"role": "user", "content": "Weather?"}
        with openai.OpenAI(
            base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0
        ) as client:
            message = first_turn(client, question, first_stream)
            calls = message.tool_calls or []
            assert len(calls) >= 2 and len({c.id for c in calls}) == len(calls)
            assert "thoughtSignature" not in message.model_dump_json()
            second = "streaming_usage.stream.sse" if second_stream else "simple.response.json"
            fake.push(Reply.transcript(TRANSCRIPTS / second))
            replay = [
                question,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": c.function.arguments,
                            },
                        }
                        for c in calls
                    ],
                },
            ]
            replay += [
                {"role": "tool", "tool_call_id": c.id, "content": '{"temp_c": 20}'} for c in calls
            ]
            reply = client.chat.completions.create(
                model="gemini/gemini-3.5-flash", messages=replay, tools=TOOLS, stream=second_stream
            )
            if second_stream:
                list(reply)
    model_turn = fake.received[-1].json["contents"][1]
    signed = [p for p in model_turn["parts"] if "functionCall" in p]
    assert signed[0]["thoughtSignature"] == signature
    assert len(signed) == len(calls)
    assert all("thoughtSignature" not in part for part in signed[1:])


def replayed(question: dict[str, Any], calls: list[Any]) -> list[Any]:
    """Turn 2 as an OpenAI client sends it: the calls without their signatures, and results."""
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in calls
        ],
    }
    results = [{"role": "tool", "tool_call_id": c.id, "content": "{}"} for c in calls]
    return [question, assistant, *results]


def sent_signatures(fake: Any) -> list[str | None]:
    parts = fake.received[-1].json["contents"][1]["parts"]
    return [p.get("thoughtSignature") for p in parts if "functionCall" in p]


def stored_signatures(gateway: Gateway, expected: int) -> None:
    """Wait (bounded) until the database holds ``expected`` signatures."""
    path = sqlite_path(gateway.config.resolved_database_url)
    for _ in range(1000):
        with closing(sqlite3.connect(path)) as db:
            (count,) = db.execute("SELECT count(*) FROM tool_signatures").fetchone()
        if count >= expected:
            return
        time.sleep(0.02)
    raise AssertionError(f"{expected} signature(s) never reached the database")


def test_signatures_survive_a_restart_and_never_reach_another_model(tmp_path: Path) -> None:
    transcript, signature = SIGNED[False]
    fake = create_fake_gemini()
    question = {"role": "user", "content": "Weather?"}
    with serve(fake) as url:
        with running_gateway(tmp_path) as first:
            first.control(
                lambda c: c.add_provider_key("default", "gemini", DEFAULT_API_KEY, base_url=url)
            )
            fake.push(Reply.transcript(TRANSCRIPTS / transcript))
            with openai.OpenAI(
                base_url=first.url + "/v1", api_key=first.api_key, max_retries=0
            ) as client:
                calls = first_turn(client, question, False).tool_calls or []
            api_key = first.api_key
            stored_signatures(first, expected=1)  # the background writer stored it
        # A restarted gateway: nothing in its memory, the signature comes from the database.
        with running_gateway(tmp_path) as second:
            with openai.OpenAI(
                base_url=second.url + "/v1", api_key=api_key, max_retries=0
            ) as client:
                for model in ("gemini/gemini-3.5-flash-lite", "gemini/gemini-3.5-flash"):
                    fake.push(Reply.transcript(TRANSCRIPTS / "simple.response.json"))
                    client.chat.completions.create(
                        model=model, messages=replayed(question, calls), tools=TOOLS
                    )
                    if model.endswith("lite"):  # another model: never a foreign signature
                        assert sent_signatures(fake) == [None] * len(calls)
    assert sent_signatures(fake) == [signature] + [None] * (len(calls) - 1)
