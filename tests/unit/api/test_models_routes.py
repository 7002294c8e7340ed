"""``keyroute.api.models_routes``: one model rendered in OpenAI's and in Anthropic's shape."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.api.models_routes import _anthropic, _openai

CREATED = datetime(2026, 11, 26, tzinfo=UTC)


def test_openai_shape() -> None:
    assert _openai("openai/gpt-4o-mini", "openai", CREATED) == {
        "id": "openai/gpt-4o-mini",
        "object": "model",
        "created": int(CREATED.timestamp()),
        "owned_by": "openai",
    }


def test_anthropic_shape() -> None:
    assert _anthropic("cheap", "alias of openai/gpt-4o-mini", CREATED) == {
        "type": "model",
        "id": "cheap",
        "display_name": "cheap (alias of openai/gpt-4o-mini)",
        "created_at": "2026-11-26T00:00:00Z",
    }
