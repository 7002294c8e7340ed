"""``keyroute.providers.openai_compatible``: presets for OpenAI-format hosts."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.secret import Secret
from keyroute.providers.base import Target
from keyroute.providers.openai_compatible import PRESETS, OpenAICompatibleProvider, Preset

REQ = ChatRequest(
    model="x/y", messages=(Message(role="user", content=(TextPart(text="hi"),)),), max_tokens=4
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset(name: str) -> None:
    preset = PRESETS[name]
    assert preset.name == name
    assert preset.label
    provider = OpenAICompatibleProvider(preset)
    assert (provider.name, provider.preset) == (name, preset)
    assert provider.capabilities.requires_key is preset.requires_key
    assert provider.capabilities.embeddings is preset.embeddings
    assert provider.max_tokens_field == "max_tokens"


@pytest.mark.parametrize("name", sorted(n for n, p in PRESETS.items() if p.base_url))
def test_base_urls_are_absolute_without_trailing_slash(name: str) -> None:
    url = PRESETS[name].base_url
    assert url is not None
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc
    assert not url.endswith("/")
    # a remote host is reached over TLS; plain http only for local servers
    assert parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost")


@pytest.mark.parametrize(
    ("name", "requires_key"),
    [
        ("openai-compatible", False),
        ("ollama", False),
        ("vllm", False),
        ("mistral", True),
        ("groq", True),
        ("deepseek", True),
    ],
)
def test_keyless_hosts(name: str, requires_key: bool) -> None:
    assert PRESETS[name].requires_key is requires_key


def test_sends_max_tokens() -> None:
    provider = OpenAICompatibleProvider(PRESETS["groq"])
    target = Target(provider="groq", model="llama", base_url="https://api.groq.com/openai/v1")
    request = provider.build_request(REQ, target, Secret("gsk"))
    assert request.url == "https://api.groq.com/openai/v1/chat/completions"
    body = json.loads(request.body)
    assert (body["model"], body["max_tokens"]) == ("llama", 4)
    assert "max_completion_tokens" not in body


def test_a_new_preset_is_configuration() -> None:
    preset = Preset(name="acme", base_url="https://llm.acme.test/v1", label="Acme")
    provider = OpenAICompatibleProvider(preset)
    assert provider.name == "acme"
    assert provider.capabilities.requires_key
