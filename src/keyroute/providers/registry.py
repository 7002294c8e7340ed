"""Provider ids -> adapters, default endpoints and model catalogues. Adding a provider is a line.

Base URLs follow each provider's own SDK convention: OpenAI-format hosts include the API version
(``https://api.openai.com/v1``), Anthropic and Gemini do not (``https://api.anthropic.com``).
A base URL given without a path gets ``/v1`` for OpenAI-format hosts; a trailing ``/v1`` is
removed for Anthropic and ``/v1beta`` for Gemini, so either spelling works.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from keyroute.core.errors import InvalidRequest
from keyroute.providers.base import Provider
from keyroute.providers.demo import DEMO_BASE_URL, DEMO_MODELS, demo_provider
from keyroute.providers.openai import OpenAIProvider
from keyroute.providers.openai_compatible import PRESETS, OpenAICompatibleProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSpec:
    name: str
    label: str
    wire: str  # "openai", "anthropic" or "gemini"
    base_url: str | None
    requires_key: bool = True
    models: tuple[str, ...] = ()
    factory: str = ""


_CATALOG: dict[str, tuple[str, ...]] = {
    "openai": (
        "gpt-6.2-sol",
        "gpt-6.2-astra",
        "gpt-6.1-sol",
        "gpt-6-sol",
        "gpt-6-luna",
        "gpt-6-astra",
        "gpt-5.6-sol",
        "gpt-5.6-terra",
        "gpt-5.6-luna",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
        "text-embedding-3-large",
    ),
    "anthropic": (
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-haiku-4-5",
    ),
    "gemini": (
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.8-flash",
        "gemini-3.1-pro-preview",
        "gemini-4-argon",
        "gemini-4-neon",
        "gemini-4-hydrogen",
        "gemini-embedding-001",
    ),
    "mistral": ("mistral-large-latest", "mistral-small-latest", "mistral-embed"),
    "groq": ("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
    "deepseek": ("deepseek-flash", "deepseek-v4-pro"),
}

_SPECS: dict[str, ProviderSpec] = {
    "openai": ProviderSpec(
        name="openai",
        label="OpenAI",
        wire="openai",
        base_url="https://api.openai.com/v1",
        models=_CATALOG["openai"],
    ),
    "anthropic": ProviderSpec(
        name="anthropic",
        label="Anthropic",
        wire="anthropic",
        base_url="https://api.anthropic.com",
        models=_CATALOG["anthropic"],
        factory="keyroute.providers.anthropic:AnthropicProvider",
    ),
    "gemini": ProviderSpec(
        name="gemini",
        label="Google Gemini",
        wire="gemini",
        base_url="https://generativelanguage.googleapis.com",
        models=_CATALOG["gemini"],
        factory="keyroute.providers.gemini:GeminiProvider",
    ),
    "demo": ProviderSpec(
        name="demo",
        label="Demo (simulated, no real model)",
        wire="openai",
        base_url=DEMO_BASE_URL,
        requires_key=False,
        models=tuple(m.split("/", 1)[1] for m in DEMO_MODELS),
    ),
    **{
        name: ProviderSpec(
            name=name,
            label=p.label,
            wire="openai",
            base_url=p.base_url,
            requires_key=p.requires_key,
            models=_CATALOG.get(name, ()),
        )
        for name, p in PRESETS.items()
    },
}


_FAMILIES: tuple[tuple[str, str], ...] = (
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("text-embedding-", "openai"),
)


def provider_for_bare_model(model: str) -> str | None:
    """The provider whose model family a bare name (no ``provider/``) belongs to, if plain."""
    for prefix, provider in _FAMILIES:
        if model.startswith(prefix):
            return provider
    return None


def provider_names() -> list[str]:
    return sorted(_SPECS)


def spec(name: str) -> ProviderSpec:
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(provider_names())
        raise InvalidRequest(
            f"Unknown provider '{name}'. Known providers: {known}.", param="provider"
        ) from None


def create(name: str, options: Mapping[str, Any] | None = None) -> Provider:
    """A fresh adapter for the provider id ``name``; ``options`` are its constructor settings
    (the ``[providers.<name>]`` config section)."""
    s = spec(name)
    if name == "openai":
        return OpenAIProvider()
    if name == "demo":
        return demo_provider()
    if name in PRESETS:
        return OpenAICompatibleProvider(PRESETS[name])
    module, _, attr = s.factory.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    provider: Provider = cls(**(options or {}))
    return provider


def normalize_base_url(name: str, url: str) -> str:
    """Validate a user-given base URL and bring it to the provider's convention."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(
            f"Base URL '{url}' must be an absolute http:// or https:// URL.", param="base_url"
        )
    if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
        raise InvalidRequest(
            f"Base URL '{url}' must not have a query string or fragment.", param="base_url"
        )
    clean = url.strip().rstrip("/")
    path = parts.path.rstrip("/")
    wire = spec(name).wire
    if wire == "openai" and not path:
        return clean + "/v1"
    if wire == "anthropic" and path.endswith("/v1"):
        return clean[: -len("/v1")]
    if wire == "gemini" and path.endswith("/v1beta"):
        return clean[: -len("/v1beta")]
    return clean
