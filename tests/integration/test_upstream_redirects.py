"""Upstream redirects are never followed: the provider key and the prompt stay where they were
sent, and the client gets a 502 that names the redirect."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

SECRET = "sk-redirect-test-key-0123456789"


class Capture:
    """A host that records every request it gets (it must get none)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.any, methods=["GET", "POST"])])

    async def any(self, request: Request) -> JSONResponse:
        self.seen.append(dict(request.headers))
        return JSONResponse({"captured": True})


@pytest.fixture
def redirecting() -> Iterator[tuple[Capture, str]]:
    capture = Capture()
    with serve(capture.app) as other:

        async def bounce(request: Request) -> RedirectResponse:
            return RedirectResponse(other + request.url.path, status_code=307)

        app = Starlette(routes=[Route("/{path:path}", bounce, methods=["GET", "POST"])])
        with serve(app) as base:
            yield capture, base


CASES = [
    ("anthropic", "", "anthropic/claude-sonnet-4-5"),
    ("gemini", "", "gemini/gemini-2.5-flash"),
    ("openai", "/v1", "openai/gpt-4o-mini"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("provider", "suffix", "model"), CASES)
def test_redirect_is_not_followed(
    gateway: Gateway,
    redirecting: tuple[Capture, str],
    provider: str,
    suffix: str,
    model: str,
    stream: bool,
) -> None:
    capture, base = redirecting
    gateway.control(
        lambda c: c.add_provider_key("default", provider, SECRET, base_url=base + suffix)
    )
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "the prompt"}],
        "stream": stream,
    }
    resp = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {gateway.api_key}"},
        timeout=10,
    )
    assert resp.status_code == 502
    assert "redirect" in resp.json()["error"]["message"]
    assert capture.seen == []
