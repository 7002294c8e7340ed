"""The fallback half of the plan: which models follow the requested one, and which candidates
can take the request at all.

- ``take_models`` reads a request's own chain from its body (``models: [...]``, in every inbound
  format: the codecs keep unknown top-level fields in ``passthrough``, and the field is taken
  out of it here so it never reaches a provider).
- ``Fallbacks.chain`` is the list appended after the requested model: the request's own chain
  (the body's ``models``, else the ``x-keyroute-fallback`` header), or when it names none the
  workspace's fallback policy for the requested id, the id it resolves to, or every model
  (``resilience.policy``). ``next-best`` in any chain becomes the catalogue's closest models the
  workspace holds a key for (``resilience.next_best``).
- ``Fallbacks.shape`` gives each candidate the workspace's timeouts for its model and drops the
  candidates whose context window cannot hold the request (``resilience.fit``); when none can,
  the request is refused with a 400 ``context_length_exceeded`` that says so.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from keyroute.catalogue import Catalogue
from keyroute.core.chat import ChatRequest, ImagePart
from keyroute.core.errors import ContextTooLong, InvalidRequest
from keyroute.core.timeouts import Timeouts
from keyroute.pipeline.context import RequestContext
from keyroute.resilience.balance import weighted_order
from keyroute.resilience.fit import Footprint
from keyroute.resilience.next_best import Need, next_best
from keyroute.resilience.policy import NEXT_BEST
from keyroute.routing.model_id import check_model_id
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.workspace_state import WorkspaceState

MAX_REQUEST_MODELS = 6  # the body's ``models``: the requested model and five fallbacks


def take_models(req: ChatRequest) -> tuple[ChatRequest, tuple[str, ...] | None]:
    """``req`` without its ``models`` field, and the fallbacks it names (``None``: no field).

    ``models`` lists the models to try in order after ``model``; its first entry may repeat
    ``model`` (as clients of other gateways send it) and is then not tried twice.
    """
    if "models" not in req.passthrough:
        return req, None
    raw = req.passthrough["models"]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("'models' must be a non-empty array of model ids.", param="models")
    if len(raw) > MAX_REQUEST_MODELS:
        raise InvalidRequest(
            f"'models' lists at most {MAX_REQUEST_MODELS} model ids; it has {len(raw)}.",
            param="models",
        )
    seen: set[str] = set()
    for index, model in enumerate(raw):
        where = f"models[{index}]"
        if not isinstance(model, str):
            raise InvalidRequest(f"'{where}' must be a model id (a string).", param=where)
        check_model_id(model, param=where)
        if model in seen:
            raise InvalidRequest(f"'{where}' repeats '{model}'.", param=where)
        seen.add(model)
    models = tuple(str(m) for m in raw)
    if models[0] == req.model:
        models = models[1:]
    rest = {k: v for k, v in req.passthrough.items() if k != "models"}
    return replace(req, passthrough=rest), models


def _need(req: ChatRequest | None, footprint: Footprint | None) -> Need:
    if req is None:
        return Need()
    caps = set()
    if req.tools:
        caps.add("tools")
    if req.stream:
        caps.add("streaming")
    if req.response_format is not None and req.response_format.type == "json_schema":
        caps.add("json_schema")
    if any(isinstance(p, ImagePart) for m in req.messages for p in m.content):
        caps.add("vision")
    return Need(capabilities=frozenset(caps), tokens=footprint.least if footprint else 0)


def _siblings(a: Route, b: Route) -> bool:
    """The same model id through two keys of one provider."""
    return a.model_id == b.model_id and a.group == b.group


class Fallbacks:
    def __init__(
        self,
        resolver: ModelResolver,
        catalogue: Catalogue,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._rand = rand
        self._resolver = resolver
        self._catalogue = catalogue
        self._today = today

    def chain(
        self, ctx: RequestContext, state: WorkspaceState, model: str, req: ChatRequest | None
    ) -> tuple[str, ...]:
        """The models to try after ``model``, in order (see the module docstring)."""
        chain: Sequence[str] = ctx.fallbacks
        on_refusal = False
        if not chain:
            policies = state.resilience
            if not policies.fallbacks:
                return ()
            first = self._resolver.resolve(state, model)
            target = first.target
            policy = policies.chain_for(model, first.model_id, f"{target.provider}/{target.model}")
            if policy is None:
                return ()
            chain, on_refusal = policy.models, policy.on_refusal
        ctx.refusal_fallback = on_refusal
        if NEXT_BEST not in chain:
            return tuple(chain)
        expanded: list[str] = []
        for name in chain:
            for item in self._next_best(state, model, req) if name == NEXT_BEST else [name]:
                if item not in expanded:
                    expanded.append(item)
        return tuple(expanded)

    def _next_best(self, state: WorkspaceState, model: str, req: ChatRequest | None) -> list[str]:
        first = self._resolver.resolve(state, model)
        entry = self._catalogue.get(first.target.provider, first.target.model)
        if entry is None:
            return []
        providers = {key.provider for key in state.provider_keys}
        need = _need(req, Footprint.of(req) if req is not None else None)
        return next_best(self._catalogue, entry, providers, need, day=self._today())

    def shape(
        self, state: WorkspaceState, routes: list[Route], req: ChatRequest | None
    ) -> list[Route]:
        """``routes`` with the keys of each model balanced by weight, the workspace's timeouts,
        less those too small for ``req``."""
        routes = self._balance(state, routes)
        timeouts = state.resilience.timeouts
        if timeouts:
            routes = [
                replace(route, target=replace(route.target, timeouts=self._timeouts(state, route)))
                for route in routes
            ]
        if req is None or all(route.context_window is None for route in routes):
            return routes
        footprint = Footprint.of(req)
        fitting = [route for route in routes if footprint.fits(route.context_window)]
        if fitting:
            return fitting
        largest = max(routes, key=lambda r: r.context_window or 0)
        raise ContextTooLong(
            f"The request needs about {footprint.prompt} prompt tokens plus "
            f"{footprint.output} output tokens, more than any of its models can hold (the "
            f"largest window is {largest.context_window} tokens, {largest.model_id}). Shorten "
            "the prompt, lower max_tokens, or add a model with a larger window to the chain.",
            param="messages",
        )

    def _balance(self, state: WorkspaceState, routes: list[Route]) -> list[Route]:
        """Each run of routes to one model id through several keys of its provider (the
        resolver's siblings of a ``provider/model`` id), in a weighted random order
        (``resilience.balance``): the keys share the load by weight, and the others stay behind
        as failover. Keys a request or a chain names one by one keep their order."""
        if len(routes) < 2:
            return routes
        balanced: list[Route] = []
        start = 0
        for end in range(1, len(routes) + 1):
            if end < len(routes) and _siblings(routes[end], routes[start]):
                continue
            run = routes[start:end]
            if len(run) > 1:
                run = weighted_order(run, lambda r: state.resilience.weight(r.key.id), self._rand)
            balanced.extend(run)
            start = end
        return balanced

    def _timeouts(self, state: WorkspaceState, route: Route) -> Timeouts:
        target = route.target
        return state.resilience.timeouts_for(
            target.timeouts, f"{target.provider}/{target.model}", route.model_id
        )
