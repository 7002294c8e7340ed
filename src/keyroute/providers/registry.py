"""Provider ids -> adapters and default endpoints. Adding a provider is a line.

Facts about models (which models a provider serves, which bare names belong to which provider)
are data in ``keyroute.catalogue``; ``ProviderSpec.models`` is read from it.

Base URLs follow each provider's own SDK convention: OpenAI-format hosts include the API version
(``https://api.openai.com/v1``), Anthropic and Gemini do not (``https://api.anthropic.com``).
A base URL given without a path gets ``/v1`` for OpenAI-format hosts; a trailing ``/v1`` is
removed for Anthropic and ``/v1beta`` for Gemini, so either spelling works.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from keyroute.catalogue import builtin
from keyroute.core.errors import InvalidRequest
from keyroute.providers.base import Provider
from keyroute.providers.demo import DEMO_BASE_URL, demo_provider
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


def _listed(name: str) -> tuple[str, ...]:
    """The models a listing shows from the catalogue; none where the host lists its own."""
    catalogue = builtin()
    return () if catalogue.provider(name).host_lists_models else catalogue.provider_models(name)


def _hosted() -> tuple[ProviderSpec, ...]:
    models = builtin().provider_models
    return (
        ProviderSpec(
            name="openai",
            label="OpenAI",
            wire="openai",
            base_url="https://api.openai.com/v1",
            models=models("openai"),
        ),
        ProviderSpec(
            name="anthropic",
            label="Anthropic",
            wire="anthropic",
            base_url="https://api.anthropic.com",
            models=models("anthropic"),
            factory="keyroute.providers.anthropic:AnthropicProvider",
        ),
        ProviderSpec(
            name="gemini",
            label="Google Gemini",
            wire="gemini",
            base_url="https://generativelanguage.googleapis.com",
            models=models("gemini"),
            factory="keyroute.providers.gemini:GeminiProvider",
        ),
        ProviderSpec(
            name="demo",
            label="Demo (simulated, no real model)",
            wire="openai",
            base_url=DEMO_BASE_URL,
            requires_key=False,
            models=models("demo"),
        ),
    )


@functools.cache
def _specs() -> dict[str, ProviderSpec]:
    """Every provider's spec, built on first use (the catalogue is read once per process)."""
    presets = (
        ProviderSpec(
            name=name,
            label=p.label,
            wire="openai",
            base_url=p.base_url,
            requires_key=p.requires_key,
            models=_listed(name),
        )
        for name, p in PRESETS.items()
    )
    return {s.name: s for s in (*_hosted(), *presets)}


def provider_for_bare_model(model: str) -> str | None:
    """The provider whose model family a bare name (no ``provider/``) belongs to, if plain."""
    return builtin().provider_for_bare_model(model)


def provider_names() -> list[str]:
    return sorted(_specs())


def spec(name: str) -> ProviderSpec:
    try:
        return _specs()[name]
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
        return OpenAIProvider(responses_api=True)
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
