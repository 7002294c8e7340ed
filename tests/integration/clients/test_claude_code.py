"""Claude Code (the ``@anthropic-ai/claude-code`` CLI, pinned in tests/clients/package.json)
through keyroute to an Anthropic, an OpenAI and a Gemini model.

``claude -p`` runs with only ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY`` pointing at the
gateway, plus the switches a sandboxed, non-interactive run needs (no telemetry, no auto-update,
no non-essential traffic, a private config dir). The fake upstream first asks Claude Code to
``Read`` a file; Claude Code runs the tool and sends its content back; the fake then answers in
text, which ``claude -p`` prints. Each fake records what its provider received, in its own format.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from keyroute.catalogue import builtin
from tests.integration.clients.recorder import Recorder, check_transcript
from tests.integration.matrix_cases import MODEL, WIRE, Call, World, max_tokens_sent

pytestmark = pytest.mark.integration
SECRET = "keyroute-token-42"


def claude(node_clients: Path, home: Path, w: World, model: str, prompt: str) -> str:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": str(w.an.base_url).rstrip("/"),
        "ANTHROPIC_API_KEY": w.an.api_key or "",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    command = [str(node_clients / "node_modules" / ".bin" / "claude"), "-p", prompt]
    command += ["--model", model, "--allowedTools", "Read"]
    proc = subprocess.run(
        command,
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"claude -p failed: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def tool_result_text(upstream: str, body: dict[str, Any]) -> str:
    """The text of the tool result the provider received, in its own format."""
    if WIRE[upstream] == "openai":
        tool = [m for m in body["messages"] if m["role"] == "tool"]
        return json.dumps(tool[-1]["content"])
    if WIRE[upstream] == "anthropic":
        last = body["messages"][-1]["content"]
        return json.dumps([b for b in last if b.get("type") == "tool_result"])
    parts = body["contents"][-1]["parts"]
    return json.dumps([p["functionResponse"] for p in parts if "functionResponse" in p])


@pytest.mark.parametrize("upstream", ["anthropic", "openai", "gemini"])
def test_claude_code_runs_a_tool_through_keyroute(
    w: World, recorder: Recorder, node_clients: Path, tmp_path: Path, upstream: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "note.txt").write_text(f"The token is {SECRET}.\n")
    read = Call("call_read" if upstream != "gemini" else None, "Read", "")
    read = Call(read.id, "Read", json.dumps({"file_path": str(home / "note.txt")}))
    w.script_stream(upstream, [], [read])
    w.script_stream(upstream, ["The note says ", SECRET, "."], [])

    out = claude(node_clients, home, w, MODEL[upstream], "What does note.txt say?")

    assert f"The note says {SECRET}." in out
    received = w.received(upstream)
    assert len(received) == 2, [path for path, _ in received]
    first, second = (body for _, body in received)
    assert "tools" in first
    assert SECRET in tool_result_text(upstream, second)
    messages = [s for s in recorder.sent if s.path.startswith("/v1/messages")]

    assert [(s.path, s.status) for s in messages] == [("/v1/messages?beta=true", 200)] * 2
    check_transcript("claude-code", f"messages-to-{WIRE[upstream]}", messages[0])
    check_transcript("claude-code", f"tool-result-to-{WIRE[upstream]}", messages[1])
    if upstream == "anthropic":  # forwarded faithfully, the beta list included
        assert first["thinking"]["type"] == "adaptive"
        assert "context_management" in first
        assert any(m["role"] == "system" for m in first["messages"])
        assert any(t.get("defer_loading") for t in first["tools"])
        beta = w.anthropic_fake.received[0].headers["anthropic-beta"]
        assert beta == messages[0].headers["anthropic-beta"]
    else:  # the Anthropic-only optimisations are left out, nothing else is
        assert "context_management" not in first and "defer_loading" not in json.dumps(first)
    asked = messages[0].body["max_tokens"]
    entry = builtin().get(WIRE[upstream], MODEL[upstream].split("/", 1)[1])
    assert entry is not None
    if asked > entry.max_output_tokens:  # lowered to the model's maximum, and said
        lowered = f"{asked} -> {entry.max_output_tokens}"
        assert messages[0].answer_headers["x-keyroute-max-tokens-lowered"] == lowered
        assert max_tokens_sent(upstream, first) == entry.max_output_tokens
    else:
        assert "x-keyroute-max-tokens-lowered" not in messages[0].answer_headers
        assert max_tokens_sent(upstream, first) == asked
