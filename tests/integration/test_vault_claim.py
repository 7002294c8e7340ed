"""The vault's claim: a provider key's plaintext is nowhere but on the way to the provider."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_openai import FakeOpenAI, Reply, error_body
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

SECRET = "sk-proj-VERYSECRET-a1b2c3d4e5f6g7h8i9j0"


def test_plaintext_never_leaves_the_request_path(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeOpenAI(api_key=SECRET)
    outputs: list[str] = []
    from tests.fakes.server import serve

    with serve(fake.app) as url:
        add = gateway.cli(
            "provider-key",
            "add",
            "--workspace",
            "default",
            "--provider",
            "openai",
            "--key-stdin",
            "--base-url",
            url + "/v1",
            "--json",
            stdin=SECRET,
        )
        outputs += [add.stdout, add.stderr]
        for args in (
            ["provider-key", "list", "--workspace", "default"],
            ["provider-key", "list", "--workspace", "default", "--json"],
            ["workspace", "list", "--json"],
            ["check-config", "--json"],
        ):
            proc = gateway.cli(*args)
            outputs += [proc.stdout, proc.stderr]
        auth = {"authorization": f"Bearer {gateway.api_key}"}
        body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
        with httpx.Client(timeout=10) as http:
            ok = http.post(gateway.url + "/v1/chat/completions", json=body, headers=auth)
            assert ok.status_code == 200
            outputs.append(ok.text + str(ok.headers))
            # A provider that echoes the key in its error must not make us leak it.
            fake.push(
                Reply.json(
                    400, error_body(f"bad request for key {SECRET}", "invalid_request_error")
                )
            )
            echoed = http.post(gateway.url + "/v1/chat/completions", json=body, headers=auth)
            assert echoed.status_code == 400
            outputs.append(echoed.text)
            stream = http.post(
                gateway.url + "/v1/chat/completions", headers=auth, json={**body, "stream": True}
            )
            outputs.append(stream.text)
            admin = {"authorization": f"Bearer {gateway.admin_token}"}
            listed = http.get(
                gateway.url + "/admin/v1/workspaces/default/provider-keys", headers=admin
            )
            outputs.append(listed.text)
            openai_key = next(k for k in listed.json()["data"] if k["provider"] == "openai")
            assert openai_key["last4"] == SECRET[-4:]
        assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"

    for text in outputs:
        assert SECRET not in text
    assert SECRET not in caplog.text
    for path in gateway.data_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert SECRET[4:20].encode() not in path.read_bytes(), path
