"""``keyroute serve --workers 2``, a real process tree on an ephemeral port.

Which worker answered a request is read from ``/proc`` (the worker holding the server side of
the connection), so the tests can prove that a tool conversation's second turn was served by
the other worker, and that a key revoked from the CLI is refused by both.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.fakes.fake_gemini import DEFAULT_API_KEY, FakeGemini, Reply, create_fake_gemini
from tests.fakes.process import ServeProcess, serve_process, worker_pid
from tests.fakes.server import serve

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "gemini"
SIGNATURE = "EpwCCpkCAdHtim9Kq3vX1oM8cP0nR4sT7uV2wY5zA6bC9dE1fG3hI8jK0lL2mN4oP6qR8sT0uV=="
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
QUESTION = {"role": "user", "content": "Weather?"}
ATTEMPTS = 60  # fresh connections tried before concluding the kernel never picked a worker


@dataclass
class Cluster:
    server: ServeProcess
    env: dict[str, str]
    api_key: str
    fake: FakeGemini
    data_dir: Path

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "keyroute", *args, "--json"],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return msgspec.json.decode(proc.stdout)

    def post(self, body: dict[str, Any], key: str | None = None) -> tuple[int, Any, int | None]:
        """One request on a fresh connection: (status, JSON body, pid of the worker)."""
        headers = {"authorization": f"Bearer {key or self.api_key}"}
        pids: list[int | None] = []

        def note_worker(resp: httpx.Response) -> None:
            # Read while the connection is open on both sides: after a refusal the server
            # closes it, and the client closes its socket once the body is read.
            port = resp.extensions["network_stream"].get_extra_info("client_addr")[1]
            pids.append(worker_pid(self.server, port))

        with httpx.Client(timeout=30, event_hooks={"response": [note_worker]}) as client:
            resp = client.post(self.server.url + "/v1/chat/completions", json=body, headers=headers)
            pid = pids[0]
        return resp.status_code, resp.json(), pid


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "KEYROUTE_DATA_DIR": str(tmp_path / "data"),
        "KEYROUTE__SERVER__CHANGE_POLL_SECONDS": "0.2",
    }
    fake = create_fake_gemini()
    with serve(fake) as fake_url:
        init = subprocess.run(
            [sys.executable, "-m", "keyroute", "init", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        api_key = msgspec.json.decode(init.stdout)["api_key"]
        with serve_process([sys.executable, "-m", "keyroute"], env, workers=2) as server:
            cluster = Cluster(server, env, api_key, fake, tmp_path / "data")
            cluster.cli(
                "provider-key",
                "add",
                "--workspace",
                "default",
                "--provider",
                "gemini",
                "--key-stdin",
                "--base-url",
                fake_url,
                stdin=DEFAULT_API_KEY,
            )
            assert len(server.children()) == 2
            yield cluster


def replay(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": c["function"]} for c in calls
        ],
    }
    results = [{"role": "tool", "tool_call_id": c["id"], "content": "{}"} for c in calls]
    return [QUESTION, assistant, *results]


def wait_for_stored_signature(data_dir: Path) -> None:
    for _ in range(1000):
        with closing(sqlite3.connect(data_dir / "keyroute.db")) as db:
            (count,) = db.execute("SELECT count(*) FROM tool_signatures").fetchone()
        if count:
            return
        time.sleep(0.02)
    raise AssertionError("the signature never reached the database")


def test_turn_two_on_the_other_worker_replays_the_signature(cluster: Cluster) -> None:
    model = "gemini/gemini-3.5-flash"
    cluster.fake.push(Reply.transcript(TRANSCRIPTS / "thought_signatures.response.json"))
    status, body, first = cluster.post({"model": model, "messages": [QUESTION], "tools": TOOLS})
    assert status == 200, body
    assert first is not None
    calls = body["choices"][0]["message"]["tool_calls"]
    assert "thoughtSignature" not in str(body)
    wait_for_stored_signature(cluster.data_dir)
    seen = set()
    for _ in range(ATTEMPTS):
        cluster.fake.push(Reply.transcript(TRANSCRIPTS / "simple.response.json"))
        status, body, pid = cluster.post(
            {"model": model, "messages": replay(calls), "tools": TOOLS}
        )
        assert status == 200, body
        parts = cluster.fake.received[-1].json["contents"][1]["parts"]
        signatures = [p.get("thoughtSignature") for p in parts if "functionCall" in p]
        assert signatures[0] == SIGNATURE, f"worker {pid} replayed {signatures}"
        seen.add(pid)
        if pid != first:
            return
    pytest.fail(f"no second turn reached the other worker in {ATTEMPTS} connections ({seen})")


def test_a_key_revoked_from_the_cli_is_refused_by_both_workers(cluster: Cluster) -> None:
    created = cluster.cli("api-key", "create", "--workspace", "default", "--name", "ci")
    key = created["key"]
    body = {"model": "demo/fast", "messages": [{"role": "user", "content": "hi"}]}
    # Both workers know the key (and have it cached).
    warm: set[int | None] = set()
    for _ in range(ATTEMPTS):
        status, answer, pid = cluster.post(body, key)
        assert status == 200, answer
        warm.add(pid)
        if len(warm) == 2:
            break
    assert len(warm) == 2 and None not in warm, f"only workers {warm} answered"

    cluster.cli("api-key", "revoke", "--workspace", "default", created["id"])
    refused: set[int | None] = set()
    deadline = time.monotonic() + 30
    while len(refused) < 2 and time.monotonic() < deadline:
        status, answer, pid = cluster.post(body, key)
        if pid is None:
            continue  # the worker could not be told from /proc: ask again
        if pid in refused:
            assert status == 401, "a worker that refused the key accepted it again"
        elif status == 401:
            assert answer["error"]["code"] == "invalid_api_key"
            refused.add(pid)
        else:
            assert status == 200, answer  # this worker has not seen the change yet
    assert refused == warm, f"workers {warm - refused} kept accepting a revoked key"
    # The gateway's own key still works on both.
    assert cluster.post(body)[0] == 200
