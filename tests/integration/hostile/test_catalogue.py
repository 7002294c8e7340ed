"""Every case of the hostile-input catalogue (``cases.py``) against ``keyroute serve`` on the
production stack: the status the case names, a JSON error in the caller's own format (with the
field named, for OpenAI's), ``x-request-id``, and no request reaching any upstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.fake_gemini import DEFAULT_API_KEY as GEMINI_KEY
from tests.fakes.fake_openai import UPSTREAM_KEY as OPENAI_KEY
from tests.integration.hostile.cases import ANY, CASES, Case
from tests.integration.hostile.conftest import (
    ANTHROPIC_KEY,
    Answer,
    ServedGateway,
    Upstreams,
    build_request,
    exchange,
)

pytestmark = pytest.mark.integration


def credentials(case: Case, gw: ServedGateway) -> list[tuple[bytes, bytes]]:
    if case.auth == "gateway":
        return [(b"authorization", b"Bearer " + gw.api_key.encode())]
    if case.auth == "x-api-key":
        return [(b"x-api-key", gw.api_key.encode()), (b"anthropic-version", b"2023-06-01")]
    if case.auth == "admin":
        return [(b"authorization", b"Bearer " + gw.admin_token.encode())]
    return []


def send(case: Case, gw: ServedGateway) -> Answer:
    if case.raw is not None:
        return exchange(gw.port, case.raw)
    headers = [*credentials(case, gw), *case.headers]
    if case.body:
        headers.insert(0, (b"content-type", b"application/json"))
    return exchange(gw.port, build_request(case.method, case.path, headers, case.body))


def secrets(gw: ServedGateway) -> list[bytes]:
    """Every secret the gateway holds: provider keys, the admin token, the master key."""
    keyring = json.loads((gw.data_dir / "master.key").read_text())
    masters = [value.encode() for value in keyring["keys"].values()]
    return [k.encode() for k in (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, gw.admin_token)] + masters


def check_error_json(case: Case, body: Any) -> None:
    if case.fmt == "anthropic":
        assert set(body) == {"type", "error"}, body
        assert body["type"] == "error"
        assert isinstance(body["error"]["type"], str) and body["error"]["type"]
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert "code" in error and "param" in error
    if case.param != ANY:
        assert error["param"] == case.param, error


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_refused_in_the_callers_format(
    case: Case, hostile_gateway: ServedGateway, upstreams: Upstreams
) -> None:
    before = upstreams.calls()
    answer = send(case, hostile_gateway)
    assert answer.status == case.status, answer.body[:500]
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.raw_head
    assert "x-request-id" in answer.headers
    check_error_json(case, answer.json())
    assert upstreams.calls() == before, "a refused request reached an upstream"
    assert not [s for s in secrets(hostile_gateway) if s in answer.raw_head + answer.body]
    assert len(answer.body) < 4096, "an error echoed a large part of the request"


def test_the_catalogue_is_large_and_its_names_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 150
    endpoints = {c.name.split("/")[0] for c in CASES}
    assert endpoints == {
        "chat",
        "messages",
        "count_tokens",
        "embeddings",
        "responses",
        "models",
        "http",
        "admin",
    }


def test_a_valid_request_does_reach_the_upstream(
    hostile_gateway: ServedGateway, upstreams: Upstreams
) -> None:
    """The control: the counting fakes see what the gateway sends, so 'nothing sent' means it."""
    before = upstreams.calls()
    body = b'{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer " + hostile_gateway.api_key.encode()),
    ]
    answer = exchange(
        hostile_gateway.port, build_request("POST", "/v1/chat/completions", headers, body)
    )
    assert answer.status == 200, answer.body
    assert upstreams.calls() == before + 1


def test_no_secret_in_the_data_directory_or_the_log(
    hostile_gateway: ServedGateway, upstreams: Upstreams
) -> None:
    """After the catalogue: provider keys, the admin token and gateway keys are stored only
    sealed or hashed, the master key only in its keyring file, and the log holds none."""
    hunted = [*secrets(hostile_gateway), hostile_gateway.api_key.encode()]
    files = [p for p in hostile_gateway.data_dir.rglob("*") if p.is_file()]
    files.append(hostile_gateway.log_path)
    assert len(files) >= 3
    for path in files:
        content = path.read_bytes()
        found = [s for s in hunted if s in content]
        if path.name == "master.key":
            found = [s for s in found if s not in secrets(hostile_gateway)[4:]]
        assert not found, f"{path.name} holds a secret"


def test_no_hostile_input_reached_an_unexpected_error(
    hostile_gateway: ServedGateway, upstreams: Upstreams
) -> None:
    """Every refusal above was deliberate: the gateway logged no traceback and no internal
    error while answering the catalogue."""
    log = hostile_gateway.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "unexpected error" not in log
    assert "Exception in ASGI application" not in log
