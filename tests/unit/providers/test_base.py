"""``keyroute.providers.base``: the values that cross the provider interface."""

from __future__ import annotations

import pytest

from keyroute.providers.base import REDACTED, Capabilities, Target, Timeouts, UpstreamRequest

KEY = "sk-secret-value-123"


def shown(url: str = "https://api.example.com/v1/chat/completions", **headers: str) -> str:
    return repr(UpstreamRequest(method="POST", url=url, headers=headers, body=b"{}"))


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEY}"},
        {"Authorization": f"Bearer {KEY}"},
        {"AUTHORIZATION": KEY},
        {"x-api-key": KEY},
        {"X-Api-Key": KEY},
        {"x-goog-api-key": KEY},
        {"api-key": KEY},
    ],
)
def test_repr_redacts_auth_headers(headers: dict[str, str]) -> None:
    text = shown(**headers)
    assert KEY not in text
    assert REDACTED in text


@pytest.mark.parametrize(
    "url",
    [
        f"https://generativelanguage.googleapis.com/v1beta/models/x:generateContent?key={KEY}",
        f"https://example.com/v1/chat?api-version=1&api_key={KEY}",
        f"https://example.com/?{KEY}",
    ],
)
def test_repr_drops_the_query_string(url: str) -> None:
    text = shown(url)
    assert KEY not in text
    assert "?" not in text


def test_repr_keeps_what_helps_debugging() -> None:
    text = shown(**{"content-type": "application/json", "anthropic-version": "2023-06-01"})
    assert text == (
        "UpstreamRequest(POST https://api.example.com/v1/chat/completions "
        "headers={'content-type': 'application/json', 'anthropic-version': '2023-06-01'} "
        "body=2B)"
    )


def test_str_is_the_redacted_repr_too() -> None:
    request = UpstreamRequest(
        method="POST", url="https://e/x?key=s", body=b"", headers={"authorization": KEY}
    )
    assert KEY not in str(request)
    assert KEY not in f"{request!s} {request!r} {[request]}"


def test_defaults() -> None:
    request = UpstreamRequest(method="GET", url="https://e", headers={}, body=b"")
    assert (request.stream, request.timeouts) == (False, Timeouts())
    target = Target(provider="openai", model="gpt-4o", base_url="https://api.openai.com/v1")
    assert (target.timeouts, dict(target.headers)) == (Timeouts(), {})
    caps = Capabilities()
    assert caps.streaming and caps.requires_key
    assert not caps.embeddings
