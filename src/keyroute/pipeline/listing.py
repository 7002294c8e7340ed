"""The models a workspace can reach: catalogue models of its provider keys, its aliases, and the
models that self-described hosts (an OpenAI-compatible host, Ollama, vLLM) list themselves.

Hosts are asked concurrently, each with a short timeout, and their answers are kept for a few
minutes per key. A stale answer is served at once while a background refresh asks again, so a
slow or silent host never holds a listing up for more than ``timeout`` seconds, and only the
first listing after start-up waits at all. A host that cannot answer lists nothing (logged) and
is asked again after ``retry_after`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from keyroute.core.errors import GatewayError
from keyroute.providers import registry
from keyroute.providers.base import ModelListingProvider
from keyroute.routing.resolver import ModelResolver, model_prefixes
from keyroute.storage.base import ProviderKeyRecord
from keyroute.tasks import TaskGroup
from keyroute.upstream import UpstreamSender
from keyroute.workspace_state import WorkspaceDirectory, WorkspaceState

log = logging.getLogger("keyroute.pipeline")


@dataclass(frozen=True, slots=True)
class _Listing:
    fetched: float
    models: tuple[str, ...]
    ok: bool


def catalogue(state: WorkspaceState) -> dict[str, str]:
    """Model id -> who serves it (a provider id, or ``alias of <target>``), from the catalogue."""
    models: dict[str, str] = {}
    for prefix, key in model_prefixes(state.provider_keys):
        for name in registry.spec(key.provider).models:
            models[f"{prefix}/{name}"] = key.provider
    for alias, target in state.aliases.items():
        models[alias] = f"alias of {target}"
    return models


class HostedModels:
    """Models that hosts list themselves, per provider key: cached, refreshed in the background."""

    def __init__(
        self,
        *,
        directory: WorkspaceDirectory,
        resolver: ModelResolver,
        sender: UpstreamSender,
        tasks: TaskGroup,
        ttl: float = 300.0,
        retry_after: float = 30.0,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._resolver = resolver
        self._sender = sender
        self._tasks = tasks
        self._ttl = ttl
        self._retry_after = retry_after
        self._timeout = timeout
        self._clock = clock
        self._cache: dict[str, _Listing] = {}
        self._refreshing: set[str] = set()

    async def models(self, state: WorkspaceState) -> dict[str, str]:
        """``model id -> provider`` for every key without a catalogue of its own."""
        keys = [
            (prefix, key)
            for prefix, key in model_prefixes(state.provider_keys)
            if not registry.spec(key.provider).models
        ]
        missing = [key for _, key in keys if key.id not in self._cache]
        if missing:
            await asyncio.gather(*(self._fetch(state, key) for key in missing))
        now = self._clock()
        found: dict[str, str] = {}
        for prefix, key in keys:
            listing = self._cache.get(key.id)
            if listing is None:
                continue
            if now - listing.fetched >= (self._ttl if listing.ok else self._retry_after):
                self._refresh(state, key)
            for model in listing.models:
                found[f"{prefix}/{model}"] = key.provider
        return found

    def _refresh(self, state: WorkspaceState, key: ProviderKeyRecord) -> None:
        if key.id in self._refreshing:
            return
        self._refreshing.add(key.id)

        async def refresh() -> None:
            try:
                await self._fetch(state, key)
            finally:
                self._refreshing.discard(key.id)

        self._tasks.spawn(refresh(), name=f"model-list-{key.id}")

    async def _fetch(self, state: WorkspaceState, key: ProviderKeyRecord) -> None:
        provider = self._resolver.provider(key.provider)
        models: tuple[str, ...] = ()
        ok = False
        if isinstance(provider, ModelListingProvider):
            try:
                request = provider.build_models_request(
                    self._resolver.target(key, ""), self._directory.secret(state, key)
                )
                async with asyncio.timeout(self._timeout):
                    resp = await self._sender.send(request, provider=key.provider)
                if 200 <= resp.status < 300:
                    models, ok = tuple(provider.parse_models(resp)), True
                else:
                    log.warning("%s answered HTTP %s to its model list", key.name, resp.status)
            except TimeoutError:
                log.warning("no model list from %s within %g s", key.name, self._timeout)
            except GatewayError as exc:
                log.warning("no model list from %s: %s", key.name, exc.message)
        self._cache[key.id] = _Listing(fetched=self._clock(), models=models, ok=ok)
