"""Issue acceptance for the audit log, through served gateways and the ``keyroute`` CLI:

- 5,000 requests of mixed outcome (served whole and streamed, refused for an unknown key or an
  unknown model, failed upstream, abandoned mid-stream), then SIGTERM at once: the exports hold
  exactly one record per request, each under its response's ``x-request-id``;
- the database locked by another connection under load, and the gateway stopped while it is
  still locked: the records spill, and the next start replays them, none lost or doubled;
- editing, deleting or reordering one stored record makes ``keyroute audit verify`` fail and
  name it;
- workspace A's gateway key cannot read any log, and A's exports (CLI and admin API) never hold
  workspace B's records.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, default_stream, error_body
from tests.fakes.server import serve
from tests.integration.conftest import Gateway, running_gateway
from tests.integration.test_metering_acceptance import served

pytestmark = pytest.mark.integration
MESSAGES = [{"role": "user", "content": "say hello"}]


def _exported(gateway: Gateway, *target: str, fmt: str = "jsonl") -> list[dict[str, object]]:
    out = gateway.cli("audit", "export", *target, "--format", fmt).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def _requests(records: list[dict[str, object]]) -> list[str]:
    return [str(r["request_id"]) for r in records if r["kind"] == "request"]


async def _traffic(url: str, key: str, kinds: list[str]) -> dict[str, str]:
    """One request per kind, 16 at a time; ``x-request-id`` -> kind."""
    chat = url + "/v1/chat/completions"
    ids: dict[str, str] = {}
    gate = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, kind: str) -> None:
        body: dict[str, object] = {"model": "openai/gpt-4o-mini", "messages": MESSAGES}
        auth = {"authorization": f"Bearer {key}"}
        if kind == "stream":
            body["stream"] = True
        elif kind == "abandoned":
            body |= {"model": "slow/gpt-4o-mini", "stream": True}
        elif kind == "failing":
            body["model"] = "failing/gpt-4o-mini"
        elif kind == "unknown_model":
            body["model"] = "nowhere/no-such-model"
        elif kind == "unknown_key":
            auth = {"authorization": "Bearer krk-not-a-key"}
        async with gate, client.stream("POST", chat, json=body, headers=auth) as resp:
            ids[resp.headers["x-request-id"]] = kind
            if kind == "abandoned":
                seen = 0
                async for line in resp.aiter_lines():
                    seen += line.startswith("data:")
                    if seen == 3:
                        break
            else:
                await resp.aread()
                expected = {"failing": 502, "unknown_key": 401, "unknown_model": 404}
                assert resp.status_code == expected.get(kind, 200), kind

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, kind) for kind in kinds))
    return ids


def _providers(gateway: Gateway, fast: str, slow: str, failing: str) -> None:
    for name, provider, base in (
        ("openai", "openai", fast),
        ("slow", "openai-compatible", slow),
        ("failing", "openai-compatible", failing),
    ):
        gateway.control(
            lambda ctl, n=name, p=provider, u=base: ctl.add_provider_key(  # type: ignore[misc]
                "default", p, UPSTREAM_KEY, name=n, base_url=u + "/v1"
            )
        )


def test_five_thousand_mixed_requests_are_five_thousand_audit_records(tmp_path: Path) -> None:
    kinds = ["whole"] * 2600 + ["stream"] * 1200 + ["abandoned"] * 100 + ["failing"] * 300
    kinds += ["unknown_key"] * 400 + ["unknown_model"] * 400
    fast, slow, failing = FakeOpenAI(), FakeOpenAI(), FakeOpenAI()
    slow.push(*[Reply.stream(default_stream(["w"] * 40, True), delay=0.02) for _ in range(100)])
    error = error_body("The server had an error.", "server_error")
    failing.push(*[Reply.json(500, error) for _ in range(300)])
    # Each upstream error is one answer here: not retried, not cut off by a breaker.
    env = {
        "KEYROUTE__AUDIT__GATEWAY_BURST": "1000",
        "KEYROUTE__RESILIENCE__MAX_RETRIES": "0",
        "KEYROUTE__RESILIENCE__BREAKERS": "false",
    }
    with running_gateway(tmp_path, **env) as gateway:
        with serve(fast.app) as a, serve(slow.app) as b, serve(failing.app) as c:
            _providers(gateway, a, b, c)
            with served(gateway) as (url, proc):
                ids = asyncio.run(_traffic(url, gateway.api_key, kinds))
                proc.send_signal(signal.SIGTERM)  # at once: the writer still holds records
                assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        assert len(ids) == 5000
        workspace = _exported(gateway, "--workspace", "default")
        refused = _exported(gateway, "--gateway")
        logged = _requests(workspace) + _requests(refused)
        assert len(logged) == 5000 and set(logged) == set(ids)
        assert {ids[r] for r in _requests(refused)} == {"unknown_key"}
        by_id = {str(r["request_id"]): r for r in workspace if r["kind"] == "request"}
        assert all(r["workspace"] is not None and r["key_id"] for r in by_id.values())
        outcomes = [
            r["stream_outcome"] for r in by_id.values() if ids[str(r["request_id"])] == "abandoned"
        ]
        assert outcomes == ["cancelled"] * 100
        served_ok = [r for i, r in by_id.items() if ids[i] in ("whole", "stream")]
        assert len(served_ok) == 3800 and all(r["status"] == 200 for r in served_ok)
        assert all(r["cost_usd"] and r["stream_outcome"] != "cancelled" for r in served_ok)
        assert [r["status"] for i, r in by_id.items() if ids[i] == "failing"] == [502] * 300
        assert all(r["served_model"] == "openai/gpt-4o-mini" for r in served_ok)
        assert all(isinstance(r["input_tokens"], int) for r in by_id.values())
        assert gateway.cli("audit", "verify", "--workspace", "default").returncode == 0
        assert gateway.cli("audit", "verify", "--gateway").returncode == 0


def test_a_locked_database_spills_and_the_next_start_replays_every_record(
    tmp_path: Path,
) -> None:
    fake = FakeOpenAI()
    with running_gateway(tmp_path) as gateway, serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        database = gateway.data_dir / "keyroute.db"
        locked, release = threading.Event(), threading.Event()

        def hold_lock() -> None:  # works as root too: a lock, not file permissions
            db = sqlite3.connect(database, isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(120)
            db.execute("ROLLBACK")
            db.close()

        with served(gateway) as (url, proc):
            before = asyncio.run(_traffic(url, gateway.api_key, ["whole"] * 50))
            holder = threading.Thread(target=hold_lock)
            holder.start()
            locked.wait(10)
            during = asyncio.run(_traffic(url, gateway.api_key, ["whole"] * 300 + ["stream"] * 200))
            proc.send_signal(signal.SIGTERM)  # still locked: the grace period ends, they spill
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        spilled = list((gateway.data_dir / "spill").glob("audit-*.jsonl"))
        assert spilled, "records the locked database refused were spilled"
        release.set()
        holder.join()
        with served(gateway) as (url, proc):  # a new start replays the spill files
            after = asyncio.run(_traffic(url, gateway.api_key, ["whole"] * 10))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        logged = _requests(_exported(gateway, "--workspace", "default"))
        assert sorted(logged) == sorted([*before, *during, *after])
        assert not list((gateway.data_dir / "spill").glob("audit-*.jsonl"))
        assert gateway.cli("audit", "verify", "--workspace", "default").returncode == 0


def _verify(gateway: Gateway) -> tuple[int, str]:
    proc = gateway.cli("audit", "verify", "--workspace", "default", check=False)
    return proc.returncode, proc.stderr


def test_editing_deleting_or_reordering_a_record_is_detected_and_named(gateway: Gateway) -> None:
    for n in range(6):  # admin events: a chain of seven records after the workspace's creation
        gateway.cli("api-key", "create", "--workspace", "default", "--name", f"k{n}")
    head = gateway.cli("audit", "head", "--workspace", "default").stdout.strip()
    assert _verify(gateway) == (0, "")
    assert (
        gateway.cli("audit", "verify", "--workspace", "default", "--expect", head).returncode == 0
    )
    database = gateway.data_dir / "keyroute.db"

    def sql(*statements: str, params: tuple[object, ...] = ()) -> None:
        with sqlite3.connect(database) as db:
            for statement in statements:
                db.execute(statement, params)
        db.close()

    original = (
        sqlite3.connect(database).execute("SELECT data FROM audit_log WHERE seq = 4").fetchone()[0]
    )
    sql("UPDATE audit_log SET data = replace(data, 'k', 'x') WHERE seq = 4")
    code, err = _verify(gateway)
    assert code == 2 and "seq 4 " in err and "changed" in err
    sql("UPDATE audit_log SET data = ? WHERE seq = 4", params=(original,))
    assert _verify(gateway)[0] == 0
    # Reordering: records 3 and 4 swap places.
    sql(
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -3",
    )
    code, err = _verify(gateway)
    assert code == 2 and "seq 3 " in err
    sql(
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -3",
    )
    assert _verify(gateway)[0] == 0
    sql("DELETE FROM audit_log WHERE seq = 5")
    code, err = _verify(gateway)
    assert code == 2 and "seq 5 is missing" in err
    # Cutting the tail is caught against the published head.
    sql("DELETE FROM audit_log WHERE seq >= 5")
    assert _verify(gateway)[0] == 0
    proc = gateway.cli("audit", "verify", "--workspace", "default", "--expect", head, check=False)
    assert proc.returncode == 2 and "tail was cut" in proc.stderr


def test_a_workspace_never_sees_another_workspaces_log(gateway: Gateway) -> None:
    other = gateway.cli_json("workspace", "create", "other")
    key_b = gateway.cli_json("api-key", "create", "--workspace", "other")["key"]
    with served(gateway) as (url, proc):
        ids_a = asyncio.run(_traffic(url, gateway.api_key, ["unknown_model"] * 5))
        ids_b = asyncio.run(_traffic(url, key_b, ["unknown_model"] * 5))
        admin = {"authorization": f"Bearer {gateway.admin_token}"}
        as_key_a = {"authorization": f"Bearer {gateway.api_key}"}
        path = "/admin/v1/workspaces/default/audit"
        assert httpx.get(url + path, headers=as_key_a).status_code == 401
        assert (
            httpx.get(
                url + f"/admin/v1/workspaces/{other['id']}/audit", headers=as_key_a
            ).status_code
            == 401
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    with served(gateway) as (url, proc):
        admin = {"authorization": f"Bearer {gateway.admin_token}"}
        resp = httpx.get(url + "/admin/v1/workspaces/default/audit?format=jsonl", headers=admin)
        assert resp.status_code == 200
        api_a = [json.loads(line) for line in resp.text.splitlines()]
        resp = httpx.get(
            url + "/admin/v1/workspaces/default/audit?format=csv&status=404", headers=admin
        )
        assert resp.status_code == 200 and resp.text.startswith(
            "seq,kind,time,workspace,request_id"
        )
        assert len(resp.text.splitlines()) == 6
        bad = httpx.get(url + "/admin/v1/workspaces/default/audit?format=xml", headers=admin)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "format"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    cli_a = _exported(gateway, "--workspace", "default")
    cli_b = _exported(gateway, "--workspace", "other")
    id_a = gateway.control(lambda c: c.workspace("default")).id
    for records in (api_a, cli_a):
        assert set(_requests(records)) == set(ids_a)
        assert {r["workspace"] for r in records} == {id_a}
    assert set(_requests(cli_b)) == set(ids_b)
    # The exports were audited, with who made them.
    exports = [
        r for r in _exported(gateway, "--workspace", "default") if r["action"] == "audit.export"
    ]
    actors = {r["actor"] for r in exports}
    assert "admin-token" in actors and any(str(a).startswith("cli") for a in actors)


def test_no_prompt_or_completion_text_is_stored_anywhere_in_the_data_directory(
    gateway: Gateway,
) -> None:
    """Body logging is off by default: after traffic and a clean stop, no file under the data
    directory (database, WAL, spill files, logs) holds the prompt or the completion."""
    fake = FakeOpenAI()
    prompt = (
        "planted-prompt-7f3e9c: my key is sk-proj-PLANTEDplanted0123456789 mail ada@example.org"
    )
    completion = "planted-completion-4b1d2a"
    fake.push(*[Reply.json(200, _completion(completion)) for _ in range(5)])
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        with served(gateway) as (url, proc):
            for _ in range(5):
                resp = httpx.post(
                    url + "/v1/chat/completions",
                    json={
                        "model": "openai/gpt-4o-mini",
                        "messages": [{"role": "user", "content": prompt}],
                        "user": "end-user-1",
                    },
                    headers={"authorization": f"Bearer {gateway.api_key}"},
                    timeout=30,
                )
                assert resp.status_code == 200 and completion in resp.text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    logged = _requests(_exported(gateway, "--workspace", "default"))
    assert len(logged) == 5
    needles = [b"planted-prompt-7f3e9c", completion.encode(), b"PLANTEDplanted", b"ada@example.org"]
    for path in gateway.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(needle in content for needle in needles), path


def _completion(text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def test_body_logging_stores_bodies_redacted_and_sealed(gateway: Gateway) -> None:
    """With body logging on, whole and streamed bodies are in the workspace's export, the
    planted API key, email and the workspace's own pattern redacted; the data directory holds
    none of them, nor the prompt in clear (sealed with the workspace's data key)."""
    on = gateway.cli_json(
        "audit", "body-logging", "--workspace", "default", "--on", "--pattern", r"ticket-\d{4}"
    )
    assert on == {"enabled": True, "patterns": [r"ticket-\d{4}"]}
    fake = FakeOpenAI()
    prompt = (
        "planted-prompt-91ab: key sk-proj-PLANTEDplanted0123456789, ada@example.org, ticket-1234"
    )
    fake.push(Reply.json(200, _completion("planted-completion-77c0")))
    with serve(fake.app) as upstream:
        gateway.control(
            lambda c: c.add_provider_key(
                "default", "openai", UPSTREAM_KEY, base_url=upstream + "/v1"
            )
        )
        with served(gateway) as (url, proc):
            ids = []
            for stream in (False, True):
                resp = httpx.post(
                    url + "/v1/chat/completions",
                    json={
                        "model": "openai/gpt-4o-mini",
                        "messages": [{"role": "user", "content": prompt}],
                        "stream": stream,
                    },
                    headers={"authorization": f"Bearer {gateway.api_key}"},
                    timeout=30,
                )
                assert resp.status_code == 200
                ids.append(resp.headers["x-request-id"])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    records = {
        str(r["request_id"]): r
        for r in _exported(gateway, "--workspace", "default")
        if r["kind"] == "request"
    }
    whole, streamed = (records[i]["body"] for i in ids)
    assert isinstance(whole, dict) and isinstance(streamed, dict)
    for body in (whole, streamed):
        request = str(body["request"])
        assert "planted-prompt-91ab" in request and body["truncated"] is False
        assert "PLANTEDplanted" not in request and "ada@example.org" not in request
        assert "ticket-1234" not in request
        for marker in ("[REDACTED:openai-key]", "[REDACTED:email]", "[REDACTED:custom-1]"):
            assert marker in request
    assert "planted-completion-77c0" in str(whole["response"])
    assert "Hello" in str(streamed["response"])  # the relayed SSE chunks
    csv_out = gateway.cli("audit", "export", "--workspace", "default", "--format", "csv").stdout
    assert "planted-prompt-91ab" not in csv_out  # bodies are never in CSV
    needles = [b"planted-prompt-91ab", b"PLANTEDplanted", b"ada@example.org", b"ticket-1234"]
    for path in gateway.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(needle in content for needle in needles), path
    off = gateway.cli_json("audit", "body-logging", "--workspace", "default", "--off")
    assert off["enabled"] is False and off["patterns"] == [r"ticket-\d{4}"]
    actions = [r["action"] for r in _exported(gateway, "--workspace", "default")]
    assert actions.count("audit.body_logging") == 2


def test_body_logging_settings_errors_and_admin_api(gateway: Gateway) -> None:
    proc = gateway.cli(
        "audit", "body-logging", "--workspace", "default", "--pattern", "(", check=False
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "pattern" in proc.stderr
    proc = gateway.cli("audit", "body-logging", "--workspace", "nobody", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    with served(gateway) as (url, _):
        admin = httpx.Client(
            base_url=url + "/admin/v1",
            headers={"authorization": f"Bearer {gateway.admin_token}"},
        )
        with admin:
            path = "/workspaces/default/audit/body-logging"
            assert admin.get(path).json() == {"enabled": False, "patterns": []}
            got = admin.put(path, json={"enabled": True, "patterns": ["secret-[a-z]+"]})
            assert got.json() == {"enabled": True, "patterns": ["secret-[a-z]+"]}
            for body, param in (
                ({"enabled": "yes"}, "enabled"),
                ({"patterns": "x"}, "patterns"),
                ({"patterns": ["a*"]}, "patterns"),  # matches the empty string
                ({"other": 1}, "other"),
            ):
                bad = admin.put(path, json=body)
                assert bad.status_code == 400 and bad.json()["error"]["param"] == param
    assert gateway.cli_json("audit", "body-logging", "--workspace", "default")["enabled"] is True
