"""The CLI and the admin API, against a running gateway sharing the same data directory."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.integration.conftest import Gateway, running_gateway

pytestmark = pytest.mark.integration


def chat(gw: Gateway, key: str, model: str = "demo/fast") -> int:
    resp = httpx.post(
        gw.url + "/v1/chat/completions",
        timeout=10,
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
    )
    return resp.status_code


def test_cli_manages_keys_while_the_server_runs(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    ws = gateway.cli_json("workspace", "create", "acme", "--plan", "build")
    assert ws["name"] == "acme" and ws["plan"] == "build" and ws["id"].startswith("ws_")
    pk = gateway.cli_json(
        "provider-key",
        "add",
        "--workspace",
        "acme",
        "--provider",
        "openai",
        "--key-stdin",
        "--name",
        "prod",
        "--base-url",
        base,
        stdin=UPSTREAM_KEY,
    )
    assert pk["last4"] == UPSTREAM_KEY[-4:] and UPSTREAM_KEY not in str(pk)
    created = gateway.cli_json("api-key", "create", "--workspace", "acme", "--name", "ci")
    key = created["key"]
    assert key.startswith("kr-")
    # A new key works on the running server's next request, without a restart.
    assert chat(gateway, key, "openai/gpt-4o-mini") == 200
    assert chat(gateway, key, "prod/gpt-4o-mini") == 200
    listed = gateway.cli_json("api-key", "list", "--workspace", "acme")
    entry = next(k for k in listed if k["id"] == created["id"])
    assert {"id", "name", "prefix", "created_at", "last_used_at"} <= set(entry)
    assert entry["prefix"] == key[:9] and "key" not in entry
    # Revocation takes effect on the next request.
    gateway.cli("api-key", "revoke", "--workspace", "acme", created["id"])
    assert chat(gateway, key) == 401
    # Provider key revocation too.
    gateway.cli("provider-key", "revoke", "--workspace", ws["id"], pk["id"])
    other = gateway.cli_json("api-key", "create", "--workspace", "acme")["key"]
    assert chat(gateway, other, "openai/gpt-4o-mini") == 400
    assert len(fake.requests) == 2


def test_keys_never_cross_workspaces(gateway: Gateway) -> None:
    gateway.cli_json("workspace", "create", "other")
    other_key = gateway.cli_json("api-key", "create", "--workspace", "other")["key"]
    # 'other' has no demo provider: default's provider keys are invisible to it.
    assert chat(gateway, other_key, "demo/fast") == 400
    ids = {
        m.id for m in openai.OpenAI(base_url=gateway.url + "/v1", api_key=other_key).models.list()
    }
    assert ids == set()
    default_keys = gateway.cli_json("api-key", "list", "--workspace", "default")
    revoke = gateway.cli(
        "api-key", "revoke", "--workspace", "other", default_keys[0]["id"], "--json", check=False
    )
    assert revoke.returncode == 1 and "error" in revoke.stdout
    assert chat(gateway, gateway.api_key) == 200


def test_cli_errors_are_clean(gateway: Gateway) -> None:
    proc = gateway.cli("workspace", "create", "default", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = gateway.cli(
        "provider-key",
        "add",
        "--workspace",
        "nope",
        "--provider",
        "openai",
        "--key-stdin",
        stdin="sk-x",
        check=False,
    )
    assert proc.returncode == 1 and "No workspace" in proc.stderr
    proc = gateway.cli("workspace", "create", "x1", "--plan", "gold", "--json", check=False)
    assert proc.returncode == 1 and '"param": "plan"' in proc.stdout


def test_workspace_delete_shreds_its_keys(gateway: Gateway) -> None:
    gateway.cli_json("workspace", "create", "gone")
    key = gateway.cli_json("api-key", "create", "--workspace", "gone")["key"]
    gateway.cli_json("provider-key", "add", "--workspace", "gone", "--provider", "demo")
    assert chat(gateway, key) == 200
    gateway.cli("workspace", "delete", "gone", "--yes")
    assert chat(gateway, key) == 401
    names = [w["name"] for w in gateway.cli_json("workspace", "list")]
    assert "gone" not in names


def test_admin_api_covers_the_cli(gateway: Gateway) -> None:
    with httpx.Client(
        base_url=gateway.url + "/admin/v1",
        timeout=10,
        headers={"authorization": f"Bearer {gateway.admin_token}"},
    ) as api:
        _admin_calls(gateway, api)


def _admin_calls(gateway: Gateway, api: httpx.Client) -> None:
    assert httpx.get(gateway.url + "/admin/v1/workspaces").status_code == 401
    assert api.get("/workspaces", headers={"authorization": "Bearer kra-wrong"}).status_code == 401
    created_ws = api.post("/workspaces", json={"name": "team", "plan": "scale"})
    assert created_ws.headers["x-request-id"].startswith("req_")
    ws = created_ws.json()
    assert ws["plan"] == "scale" and ws["monthly_request_quota"] == 500_000
    assert api.post("/workspaces", json={"name": "team"}).status_code == 409
    pk = api.post("/workspaces/team/provider-keys", json={"provider": "demo"}).json()
    created = api.post("/workspaces/team/api-keys", json={"name": "svc"}).json()
    assert chat(gateway, created["key"]) == 200
    keys = api.get(f"/workspaces/{ws['id']}/api-keys").json()["data"]
    assert keys[0]["last_used_at"] is None or keys[0]["last_used_at"].endswith("Z")
    assert (
        api.put("/workspaces/team/aliases/quick", json={"target": "demo/fast"}).status_code == 200
    )
    assert chat(gateway, created["key"], "quick") == 200
    assert api.delete(f"/workspaces/team/api-keys/{created['id']}").status_code == 200
    assert chat(gateway, created["key"]) == 401
    assert api.delete(f"/workspaces/team/provider-keys/{pk['id']}").status_code == 200
    bad = api.post("/workspaces/team/provider-keys", json={"provider": "nope", "key": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "provider"
    assert api.get("/providers").json()["data"]
    assert api.delete("/workspaces/team").status_code == 200
    assert api.get("/workspaces/team").status_code == 404


def test_rotate_master_online(gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, base = fake_openai
    gateway.cli_json(
        "provider-key",
        "add",
        "--workspace",
        "default",
        "--provider",
        "openai",
        "--key-stdin",
        "--base-url",
        base,
        stdin=UPSTREAM_KEY,
    )
    assert chat(gateway, gateway.api_key, "openai/gpt-4o-mini") == 200
    result = gateway.cli_json("vault", "rotate-master")
    assert result["rewrapped"] == 1 and result["old_key_id"] != result["new_key_id"]
    # The running server decrypts with the new master key without a restart.
    gateway.cli_json("workspace", "create", "after-rotation")
    gateway.cli_json(
        "provider-key",
        "add",
        "--workspace",
        "after-rotation",
        "--provider",
        "openai",
        "--key-stdin",
        "--base-url",
        base,
        stdin=UPSTREAM_KEY,
    )
    key = gateway.cli_json("api-key", "create", "--workspace", "after-rotation")["key"]
    assert chat(gateway, key, "openai/gpt-4o-mini") == 200
    assert chat(gateway, gateway.api_key, "openai/gpt-4o-mini") == 200


def test_check_config_and_init_are_idempotent(gateway: Gateway) -> None:
    assert gateway.cli_json("check-config")["ok"] is True
    again = gateway.cli_json("init")
    assert again["created"] is False and "api_key" not in again


def test_master_key_from_the_environment(
    tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    import base64
    import secrets

    fake, base = fake_openai
    first = base64.b64encode(secrets.token_bytes(32)).decode()
    with running_gateway(tmp_path, KEYROUTE_MASTER_KEY=first) as gw:
        assert not (gw.data_dir / "master.key").exists()
        gw.cli_json(
            "provider-key",
            "add",
            "--workspace",
            "default",
            "--provider",
            "openai",
            "--key-stdin",
            "--base-url",
            base,
            stdin=UPSTREAM_KEY,
        )
        assert chat(gw, gw.api_key, "openai/gpt-4o-mini") == 200
        refused = gw.cli("vault", "rotate-master", "--json", check=False)
        assert refused.returncode == 1 and "--new-key-stdin" in refused.stdout
        second = secrets.token_hex(32)
        rotated = gw.cli_json("vault", "rotate-master", "--new-key-stdin", stdin=second)
        assert rotated["rewrapped"] == 1
        # The running server still holds the old key and keeps serving, online.
        assert chat(gw, gw.api_key, "openai/gpt-4o-mini") == 200
        # A process started with the old key is refused with a clear message.
        stale = gw.cli("check-config", "--json", check=False)
        assert stale.returncode == 1 and "cannot decrypt" in stale.stdout
    # Restarted with the new key, everything still decrypts.
    with running_gateway(tmp_path, KEYROUTE_MASTER_KEY=second) as gw:
        key = gw.cli_json("api-key", "create", "--workspace", "default")["key"]
        assert chat(gw, key, "openai/gpt-4o-mini") == 200


def test_serve_json_and_a_taken_port(gateway: Gateway) -> None:
    import json as _json
    import os
    import socket
    import subprocess
    import sys

    env = {**os.environ, **gateway.env}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        refused = gateway.cli("serve", "--port", str(taken), "--json", check=False)
        assert refused.returncode == 1
        assert "Cannot listen" in _json.loads(refused.stdout)["error"]["message"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyroute", "serve", "--port", str(port), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started = _json.loads(proc.stdout.readline())
        assert started["listening"] == f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.1)
        assert health.status_code == 200
        assert {"x-request-id", "x-keyroute-overhead-ms"} <= set(health.headers)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def test_every_answer_carries_the_two_headers(gateway: Gateway) -> None:
    auth = {"authorization": f"Bearer {gateway.api_key}"}
    answers = [
        httpx.post(gateway.url + "/v1/chat/completions", json={}, timeout=10),
        httpx.get(gateway.url + "/v1/models", headers={"x-api-key": "kr-nope"}, timeout=10),
        httpx.get(gateway.url + "/v1/chat/completions", headers=auth, timeout=10),
        httpx.get(gateway.url + "/v1/nonexistent", timeout=10),
        httpx.put(gateway.url + "/health", timeout=10),
        httpx.get(gateway.url + "/admin/v1/workspaces", timeout=10),
        httpx.post(
            gateway.url + "/v1/messages",
            headers=auth,
            timeout=10,
            json={"model": "demo/fast", "messages": [{"role": "user", "content": "x"}]},
        ),
    ]
    assert [a.status_code for a in answers] == [401, 401, 405, 404, 405, 401, 400]
    for answer in answers:
        assert {"x-request-id", "x-keyroute-overhead-ms"} <= set(answer.headers), answer.url
    assert answers[-1].json()["error"]["message"] == "max_tokens: Field required"
