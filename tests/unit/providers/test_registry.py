"""``keyroute.providers.registry``: provider ids -> adapters, specs and base URLs."""

from __future__ import annotations

import importlib.util

import pytest

from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import InvalidRequest
from keyroute.core.secret import Secret
from keyroute.providers import registry
from keyroute.providers.base import Capabilities, EmbeddingsProvider, Target, UpstreamResponse
from keyroute.providers.demo import DEMO_BASE_URL, demo_models
from keyroute.providers.openai import OpenAIProvider
from keyroute.providers.openai_compatible import PRESETS, OpenAICompatibleProvider
from keyroute.upstream.demo import DemoUpstream


def factory_available(name: str) -> bool:
    module = registry.spec(name).factory.partition(":")[0]
    return not module or importlib.util.find_spec(module) is not None


CREATABLE = [n for n in registry.provider_names() if factory_available(n)]


def test_provider_names_are_sorted_and_cover_presets() -> None:
    names = registry.provider_names()
    assert names == sorted(names)
    assert {"openai", "anthropic", "gemini", "demo", *PRESETS} == set(names)


@pytest.mark.parametrize("name", CREATABLE)
def test_create(name: str) -> None:
    provider = registry.create(name)
    assert provider.name == name
    assert isinstance(provider.capabilities, Capabilities)
    if name != "demo":  # demo: Capabilities.requires_key is True but unused
        assert provider.capabilities.requires_key is registry.spec(name).requires_key
    assert registry.create(name) is not provider  # fresh each time


@pytest.mark.parametrize("name", CREATABLE)
def test_spec(name: str) -> None:
    s = registry.spec(name)
    assert s.name == name
    assert s.wire in ("openai", "anthropic", "gemini")
    assert s.label
    assert len(set(s.models)) == len(s.models)
    if s.factory:
        module, sep, attr = s.factory.partition(":")
        assert sep and module.startswith("keyroute.providers.") and attr
    else:
        assert s.wire == "openai"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("openai", OpenAIProvider),
        ("demo", OpenAIProvider),
        ("groq", OpenAICompatibleProvider),
        ("openai-compatible", OpenAICompatibleProvider),
    ],
)
def test_openai_format_adapters(name: str, cls: type) -> None:
    assert type(registry.create(name)) is cls


def test_demo_embeddings_are_refused_or_answered() -> None:
    provider = registry.create("demo")
    if not provider.capabilities.embeddings:
        return  # the pipeline refuses with UnsupportedFeature before sending anything
    assert isinstance(provider, EmbeddingsProvider)
    target = Target(provider="demo", model="fast", base_url=DEMO_BASE_URL)
    request = provider.build_embeddings_request(
        EmbeddingRequest(model="demo/fast", inputs=("hi",)), target, Secret("")
    )
    status, body = DemoUpstream().complete(request.body)  # what the demo:// transport answers
    provider.parse_embeddings_response(UpstreamResponse(status=status, headers={}, body=body))


def test_hosts_with_big_catalogues_list_their_own_models() -> None:
    # Priced in the catalogue, but GET /v1/models asks the host (an empty spec list).
    assert registry.spec("together").models == registry.spec("fireworks").models == ()
    assert "llama-3.3-70b-versatile" in registry.spec("groq").models


def test_demo_spec_lists_the_demo_models() -> None:
    s = registry.spec("demo")
    assert (s.requires_key, s.wire) == (False, "openai")
    assert [f"demo/{m}" for m in s.models] == list(demo_models())


@pytest.mark.parametrize("name", ["", "OpenAI", "azure", "openai "])
def test_unknown_provider(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.spec(name)
    assert info.value.param == "provider"
    assert "openai" in info.value.message  # lists the known ones
    with pytest.raises(InvalidRequest):
        registry.create(name)


def check(name: str, url: str, expected: str) -> None:
    assert registry.normalize_base_url(name, url) == expected


@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        # OpenAI-format hosts: a bare host gets /v1, a given path is kept
        ("openai", "https://api.openai.com", "https://api.openai.com/v1"),
        ("openai", "https://api.openai.com/", "https://api.openai.com/v1"),
        ("openai", "https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("openai", "https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("openai-compatible", "http://localhost:8000", "http://localhost:8000/v1"),
        ("openai-compatible", "  http://localhost:8000/  ", "http://localhost:8000/v1"),
        ("groq", "https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
        ("vllm", "http://10.0.0.5:8000/custom", "http://10.0.0.5:8000/custom"),
        ("ollama", "http://127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
        # Anthropic: no version in the base URL
        ("anthropic", "https://api.anthropic.com", "https://api.anthropic.com"),
        ("anthropic", "https://api.anthropic.com/", "https://api.anthropic.com"),
        ("anthropic", "https://api.anthropic.com/v1", "https://api.anthropic.com"),
        ("anthropic", "https://api.anthropic.com/v1/", "https://api.anthropic.com"),
        ("anthropic", "https://proxy.test/anthropic/v1", "https://proxy.test/anthropic"),
        # Gemini: no /v1beta in the base URL
        (
            "gemini",
            "https://generativelanguage.googleapis.com",
            "https://generativelanguage.googleapis.com",
        ),
        (
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com",
        ),
        (
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/",
            "https://generativelanguage.googleapis.com",
        ),
        ("gemini", "https://proxy.test/gemini", "https://proxy.test/gemini"),
    ],
)
def test_normalize_base_url(name: str, url: str, expected: str) -> None:
    check(name, url, expected)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "api.openai.com",
        "//api.openai.com/v1",
        "file:///etc/passwd",
        "https://",
        "",
        "demo://simulated/v1",
        "javascript:alert(1)",
    ],
)
def test_normalize_base_url_refuses_bad_urls(url: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.normalize_base_url("openai", url)
    assert info.value.param == "base_url"


def test_normalize_base_url_unknown_provider() -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.normalize_base_url("nope", "https://x.test")
    assert info.value.param == "provider"


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in registry.provider_names()
        if (registry.spec(n).base_url or "").startswith(("http://", "https://"))
    ],
)
def test_default_base_urls_are_already_normal(name: str) -> None:
    url = registry.spec(name).base_url
    assert url is not None
    check(name, url, url)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("openai", "https://host.test?x=1"),  # -> 'https://host.test?x=1/v1'
        ("anthropic", "https://api.anthropic.com/v1?beta=true"),  # -> '.../v1?beta=t'
        ("gemini", "https://g.test/v1beta?key=abc"),  # -> 'https://g.test/v1beta?'
        ("openai", "https://host.test/#frag"),  # -> 'https://host.test/#frag/v1'
    ],
)
def test_normalize_base_url_refuses_query_and_fragment(name: str, url: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.normalize_base_url(name, url)
    assert info.value.param == "base_url"
