"""Fuzz the admin API on the production stack with Hypothesis (bounded and derandomized, so
every run sends the same requests): any method and path under ``/admin/v1`` with hostile path
parameters, and bodies that are JSON shaped like the real ones (right keys, wrong values) or
arbitrary bytes. Every answer must be a non-5xx, JSON (OpenAI error JSON when refused), with a
request id; no upstream is ever called.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.hostile.conftest import (
    ServedGateway,
    Upstreams,
    build_request,
    exchange,
)

pytestmark = pytest.mark.integration

ROUTES = [
    ("GET", "/workspaces"),
    ("POST", "/workspaces"),
    ("GET", "/workspaces/{ws}"),
    ("DELETE", "/workspaces/{ws}"),
    ("GET", "/workspaces/{ws}/api-keys"),
    ("POST", "/workspaces/{ws}/api-keys"),
    ("DELETE", "/workspaces/{ws}/api-keys/{id}"),
    ("GET", "/workspaces/{ws}/provider-keys"),
    ("POST", "/workspaces/{ws}/provider-keys"),
    ("DELETE", "/workspaces/{ws}/provider-keys/{id}"),
    ("GET", "/workspaces/{ws}/aliases"),
    ("PUT", "/workspaces/{ws}/aliases/{id}"),
    ("DELETE", "/workspaces/{ws}/aliases/{id}"),
    ("GET", "/providers"),
    ("GET", "/check-config"),
    ("PATCH", "/workspaces/{ws}"),
    ("POST", "/workspaces/{ws}/aliases/{id}"),
]
FIELDS = ["name", "plan", "provider", "key", "base_url", "target", "discount_percent", "prices"]
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(
    [
        "default",
        "a\r\nb",
        "\x00",
        "../..",
        "%2e%2e",
        "x" * 300,
        "\u0430dmin",
        "http://[::1",
        "http://169.254.169.254",
        "http://u:p@h",
        "openai",
        "openai-compatible",
        "sk-\r\nx",
    ]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).map(msgspec.json.encode)
bodies = shaped | st.binary(max_size=64) | json_values.map(msgspec.json.encode) | st.just(b"")


@st.composite
def admin_requests(draw: Any) -> tuple[str, str, bytes]:
    method, template = draw(st.sampled_from(ROUTES))
    path = template.format(
        ws=quote(draw(hostile_text | st.just("default")), safe="") or "default",
        id=quote(draw(hostile_text), safe="") or "x",
    )
    return method, "/admin/v1" + path, draw(bodies)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(admin_requests())
def test_the_admin_api_never_fails_on_hostile_requests(
    hostile_gateway: ServedGateway, upstreams: Upstreams, sent: tuple[str, str, bytes]
) -> None:
    method, path, body = sent
    before = upstreams.calls()
    headers = [(b"authorization", b"Bearer " + hostile_gateway.admin_token.encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    answer = exchange(hostile_gateway.port, build_request(method, path, headers, body))
    assert answer.status < 500, (method, path, body, answer.body[:300])
    assert "x-request-id" in answer.headers
    if answer.status == 204:
        assert answer.body == b""
    elif answer.status >= 400:
        error = msgspec.json.decode(answer.body)["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert {"type", "param", "code"} <= set(error)
    else:
        msgspec.json.decode(answer.body)
    assert upstreams.calls() == before
