"""The Node clients, pinned in tests/clients/package.json, through keyroute to each provider.

Each cell runs ``tests/clients/run.mjs`` (one client, one feature) with only the base URL and
the key pointing at the gateway: the ``openai`` SDK, ``@anthropic-ai/sdk``, and the Vercel AI SDK
with ``@ai-sdk/openai`` ``.chat()`` and with ``@ai-sdk/anthropic``. The fake upstream answers in
its own format; the cell checks what the client got, what the provider received, and the shape
of what the client sent (tests/transcripts/clients/<client>/).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.clients.recorder import Recorder, check_transcript
from tests.integration.matrix_cases import MODEL, TIME_CALL, WEATHER_CALL, WIRE, Call, World

pytestmark = pytest.mark.integration
CLIENTS = ("openai", "anthropic", "ai-openai", "ai-anthropic")
UPSTREAMS = ("openai", "anthropic", "gemini")
WEATHER = {"city": "Paris", "temperature": 21}
# How each client calls for each feature: True where it streams (tools: first call, second call).
STREAMS: dict[str, dict[str, Any]] = {
    "openai": {"chat": False, "stream": True, "structured": False, "tools": (True, False)},
    "anthropic": {"chat": False, "stream": True, "structured": False, "tools": (True, False)},
    "ai-openai": {"chat": False, "stream": True, "structured": False, "tools": (True, True)},
    "ai-anthropic": {"chat": False, "stream": True, "structured": False, "tools": (True, True)},
}


def run(node_clients: Path, w: World, client: str, feature: str, upstream: str) -> Any:
    job = {
        "client": client,
        "feature": feature,
        "base": str(w.an.base_url).rstrip("/"),
        "key": w.an.api_key,
        "model": MODEL[upstream],
    }
    proc = subprocess.run(
        ["node", str(node_clients / "run.mjs"), json.dumps(job)],
        cwd=node_clients,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def script(w: World, upstream: str, stream: bool, text: str | None, calls: tuple[Any, ...] = ()):
    if stream:
        w.script_stream(upstream, [text[:5], text[5:]] if text else [], calls)
    else:
        w.script(upstream, text=text, calls=calls)


def tool_results(upstream: str, body: dict[str, Any]) -> list[Any]:
    """The (call id, text) of every tool result the provider received, in its own format."""
    if WIRE[upstream] == "openai":
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    if WIRE[upstream] == "anthropic":
        blocks = [b for m in body["messages"] for b in m["content"] if isinstance(b, dict)]
        results = [b for b in blocks if b.get("type") == "tool_result"]
        return [(b["tool_use_id"], _text(b["content"])) for b in results]
    parts = [
        p["functionResponse"]
        for c in body["contents"]
        for p in c["parts"]
        if "functionResponse" in p
    ]
    return [(p["id"], p["response"]["result"]) for p in parts]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b["text"] for b in content if b.get("type") == "text")


def tools_sent(upstream: str, body: dict[str, Any]) -> list[str]:
    """The names of the tools the provider received."""
    if WIRE[upstream] == "openai":
        return [t["function"]["name"] for t in body["tools"]]
    if WIRE[upstream] == "anthropic":
        return [t["name"] for t in body["tools"]]
    return [d["name"] for t in body["tools"] for d in t["functionDeclarations"]]


def structured_request(upstream: str, body: dict[str, Any]) -> Any:
    """The JSON schema the provider was asked to answer in."""
    if WIRE[upstream] == "openai":
        return body["response_format"]["json_schema"]["schema"]
    if WIRE[upstream] == "anthropic":
        return body["output_config"]["format"]["schema"]
    return body["generationConfig"]["responseJsonSchema"]


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_chat_and_stream(
    w: World, recorder: Recorder, node_clients: Path, client: str, upstream: str
) -> None:
    for feature in ("chat", "stream"):
        script(w, upstream, STREAMS[client][feature], "Hello there.")
        got = run(node_clients, w, client, feature, upstream)
        assert got == {"text": "Hello there."}, got
    assert len(w.received(upstream)) == 2
    check_transcript(client, f"chat-to-{upstream}", recorder.sent[0])
    check_transcript(client, f"stream-to-{upstream}", recorder.sent[1])


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_parallel_tool_round_trip(
    w: World, recorder: Recorder, node_clients: Path, client: str, upstream: str
) -> None:
    first, second = STREAMS[client]["tools"]
    script(w, upstream, first, None, (WEATHER_CALL, TIME_CALL))
    script(w, upstream, second, "21°C at 14:00.")
    got = run(node_clients, w, client, "tools", upstream)
    assert got.get("text") == "21°C at 14:00.", got
    calls = [[c.id, c.name, c.arguments] for c in (WEATHER_CALL, TIME_CALL)]
    assert [[i, n, json.loads(a)] for i, n, a in got["calls"]] == [
        [i, n, json.loads(a)] for i, n, a in calls
    ]
    received = w.received(upstream)
    assert len(received) == 2
    assert tool_results(upstream, received[1][1]) == [("call_a", "21°C"), ("call_b", "14:00")]
    check_transcript(client, f"tools-to-{upstream}", recorder.sent)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_structured_output(
    w: World, recorder: Recorder, node_clients: Path, client: str, upstream: str
) -> None:
    by_tool = client == "ai-anthropic" and upstream != "anthropic"
    if by_tool:  # for a model it does not know, @ai-sdk/anthropic forces a single "json" call
        answer = Call("call_json", "json", json.dumps(WEATHER, separators=(",", ":")))
        script(w, upstream, False, None, (answer,))
    else:
        script(w, upstream, STREAMS[client]["structured"], json.dumps(WEATHER))
    got = run(node_clients, w, client, "structured", upstream)
    assert got == {"object": WEATHER}, got
    ((_, body),) = w.received(upstream)
    if by_tool:
        assert tools_sent(upstream, body) == ["json"]
    else:
        assert structured_request(upstream, body)["required"] == ["city", "temperature"]
    check_transcript(client, f"structured-to-{upstream}", recorder.sent[0])
