"""Model id -> ``Route``: alias expansion, provider prefix, provider key, deployment target.

A model id is ``prefix/model``. The prefix is first matched against the names of the workspace's
provider keys (so two OpenAI-compatible hosts can be told apart by key name), then against
provider ids. Aliases map a name to a model id, at most a few levels deep. A bare name that is
no alias but plainly names one provider's model family (``claude-...``, ``gpt-...``,
``gemini-...``) goes to that provider, so tools with built-in model names (Claude Code, the
OpenAI Agents SDK) work unchanged. Every id (and what an alias expands to) is checked by
``model_id.check_model_id`` first, so a malformed id never reaches a provider.

Routes are remembered per workspace for as long as its state's keys and aliases are the same
objects: a configuration change loads a new ``WorkspaceState`` (new lists), which resolves
afresh, so the cache is exact. It holds key records and aliases, never a plaintext key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from keyroute.catalogue import Catalogue
from keyroute.core.errors import GatewayError, InvalidRequest, ModelNotFound
from keyroute.providers import registry
from keyroute.providers.base import Provider, Target, Timeouts
from keyroute.routing.model_id import check_model_id
from keyroute.storage.base import ProviderKeyRecord
from keyroute.workspace_state import WorkspaceState

_MAX_ALIAS_DEPTH = 5
_MAX_CACHED_ROUTES = 256  # per workspace: model ids a client may send are unbounded


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    provider: Provider
    target: Target
    key: ProviderKeyRecord
    model_id: str  # provider-prefixed id shown to the client
    context_window: int | None = None  # from the catalogue; None when the model is unknown

    @property
    def health_key(self) -> tuple[str, str]:
        """The circuit breaker of this route: one per (provider key, model)."""
        return (self.key.id, self.target.model)

    @property
    def group(self) -> tuple[str, str]:
        """Routes to one model through different keys of one provider share a group."""
        return (self.target.provider, self.target.model)


def model_prefixes(keys: Sequence[ProviderKeyRecord]) -> list[tuple[str, ProviderKeyRecord]]:
    """The prefix that names each key's models in listings: the provider id for a provider's
    first key, the key's own name for any further key of that provider."""
    seen: set[str] = set()
    named = []
    for key in keys:
        named.append((key.provider if key.provider not in seen else key.name, key))
        seen.add(key.provider)
    return named


class ModelResolver:
    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._timeouts = timeouts or Timeouts()
        self._options = options or {}
        self._providers: dict[str, Provider] = {}
        # workspace id -> (the state's provider keys, its aliases, model id -> route)
        self._routes: dict[str, tuple[object, object, dict[str, Route]]] = {}

    def provider(self, name: str) -> Provider:
        adapter = self._providers.get(name)
        if adapter is None:
            adapter = registry.create(name, self._options.get(name))
            self._providers[name] = adapter
        return adapter

    def candidates(
        self, state: WorkspaceState, model: str, fallbacks: Sequence[str] = ()
    ) -> list[Route]:
        """Every route that may answer ``model``, in the order to try them: its route, the same
        model through the provider's other keys (when the id named the provider, not one key),
        then each fallback's routes. A fallback that does not resolve is left out."""
        first = self.resolve(state, model)
        routes = [first, *self._siblings(state, first, model)]
        for other in fallbacks:
            try:
                route = self.resolve(state, other)
            except GatewayError:
                continue
            routes.extend([route, *self._siblings(state, route, other)])
        seen: set[tuple[str, str]] = set()
        unique = []
        for route in routes:
            if route.health_key not in seen:
                seen.add(route.health_key)
                unique.append(route)
        return unique

    def _siblings(self, state: WorkspaceState, route: Route, model: str) -> list[Route]:
        """The same model through the provider's other keys, unless the id named one key."""
        prefix = route.model_id.partition("/")[0]
        if prefix != route.key.provider or prefix != route.target.provider:
            return []
        return [
            replace(route, key=key, target=self.target(key, route.target.model))
            for key in state.provider_keys
            if key.provider == route.key.provider and key.id != route.key.id
        ]

    def resolve(self, state: WorkspaceState, model: str) -> Route:
        """The route for ``model``; a malformed id is refused (400 ``model``) before any lookup."""
        cached = self._routes.get(state.workspace.id)
        if cached is None or cached[0] is not state.provider_keys or cached[1] is not state.aliases:
            cached = (state.provider_keys, state.aliases, {})
            self._routes[state.workspace.id] = cached
        routes = cached[2]
        route = routes.get(model)
        if route is None:
            route = self._resolve(state, model)
            if len(routes) >= _MAX_CACHED_ROUTES:
                routes.clear()
            routes[model] = route
        return route

    def _resolve(self, state: WorkspaceState, model: str) -> Route:
        check_model_id(model)
        model_id = self._expand(state, model)
        if model_id is not model:  # an alias: its target is checked too
            check_model_id(model_id)
        if "/" not in model_id:
            family = registry.provider_for_bare_model(model_id)
            if family is not None:
                model_id = f"{family}/{model_id}"
        prefix, sep, upstream_model = model_id.partition("/")
        if not sep or not prefix or not upstream_model:
            raise ModelNotFound(
                f"The model '{model}' does not exist. Model ids look like 'provider/model' "
                "(for example 'openai/gpt-4o-mini' or 'demo/fast'), or are a workspace alias.",
                param="model",
            )
        key = self._key(state, prefix, model)
        entry = self._catalogue.get(key.provider, upstream_model) if self._catalogue else None
        return Route(
            provider=self.provider(key.provider),
            target=self.target(key, upstream_model),
            key=key,
            model_id=f"{prefix}/{upstream_model}",
            context_window=entry.context_window if entry is not None else None,
        )

    def target(self, key: ProviderKeyRecord, model: str) -> Target:
        """Where ``key``'s provider serves ``model``."""
        base_url = key.base_url or registry.spec(key.provider).base_url
        if base_url is None:
            raise InvalidRequest(
                f"The provider key '{key.name}' has no base URL; add it again with --base-url.",
                param="model",
            )
        return Target(
            provider=key.provider, model=model, base_url=base_url, timeouts=self._timeouts
        )

    def _expand(self, state: WorkspaceState, model: str) -> str:
        seen = model
        for _ in range(_MAX_ALIAS_DEPTH + 1):
            target = state.aliases.get(seen)
            if target is None:
                return seen
            seen = target
        raise InvalidRequest(f"The alias '{model}' nests too deeply.", param="model")

    def _key(self, state: WorkspaceState, prefix: str, model: str) -> ProviderKeyRecord:
        for key in state.provider_keys:
            if key.name == prefix:
                return key
        for key in state.provider_keys:
            if key.provider == prefix:
                return key
        if prefix in registry.provider_names():
            ws = state.workspace.name
            spec = registry.spec(prefix)
            hint = (" --key-stdin" if spec.requires_key else "") + (
                " --base-url URL" if spec.base_url is None else ""
            )
            raise InvalidRequest(
                f"Workspace '{ws}' has no provider key for '{prefix}'. Add one with: "
                f"keyroute provider-key add --workspace {ws} --provider {prefix}{hint}",
                param="model",
            )
        raise ModelNotFound(
            f"The model '{model}' does not exist: '{prefix}' is neither a provider nor a "
            "provider key name in this workspace.",
            param="model",
        )
