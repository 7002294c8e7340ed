"""``AutoRouter``: the plan of a ``model: "auto"`` request, and why.

    policy -> candidates -> hard constraints -> difficulty score -> rung -> prompt cache
           -> choice -> fallback order

The policy comes from the workspace state (``policy``). Candidates that cannot serve the
request are removed first: capabilities and context window (``constraints``), no provider key
for the model, every key of the model behind an open circuit or resting after a rate limit
(``Circuits``), a budget downgrade in force. The request is then scored by the
``DifficultyScorer`` (higher is harder) and placed on the threshold ladder of the remaining
candidates (``ladder``: the top rung is the policy's threshold, from its quality knob through
the scorer's calibration; the rungs below share the rest of the traffic between the cheaper
candidates): with two candidates, at or above the threshold the strongest answers, below it
the cheapest. Then the prompt cache has its say (``warm``): a conversation warm on a candidate
at least as strong as the ladder asks for stays there, unless the ladder's model is confidently
cheaper even after losing the cache discount. The chosen model comes first in the plan, then the
stronger candidates from the ladder's choice upward, then the cheaper ones downward, then the
request's own fallbacks; the attempt loop walks that list.

Invariants:
- Pure CPU on the request path: no I/O, no await. The scorer and its ladders are computed
  once per process (cached per knob and number of candidates); the warmth look-up is one
  dictionary read, and prices are read only for a conversation warm somewhere.
- Every decision is explained (``RouteDecision``): policy, chosen model, score, threshold (and
  the ladder's thresholds with more than two candidates), reason, the prompt cache's say, and
  each removed candidate with the reason it was removed.
- A request no candidate can serve is refused: 503 ``no_route_available`` when only
  availability removed them (circuits, keys resting), 400 naming the request field otherwise.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, Protocol

from keyroute.catalogue import Catalogue
from keyroute.core.cache_warmth import CacheWarmth
from keyroute.core.chat import ChatRequest
from keyroute.core.errors import GatewayError, InvalidRequest, NoRouteAvailable, NotFound
from keyroute.routing.constraints import Needs, unmet
from keyroute.routing.ladder import ladder, rung
from keyroute.routing.policy import (
    SHIPPED,
    RoutingPolicy,
    implicit_default,
    policy_name,
)
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.routing.warm import Option, WarmChoice, choose, expected_output
from keyroute.workspace_state import WorkspaceState


class DifficultyScorer(Protocol):
    """How hard a request is (higher is harder), and the threshold for a quality knob.

    Pure CPU and deterministic. ``threshold_for_quality(q)`` is the threshold at which routing
    the requests scored at or above it to the strong model keeps ``q`` of the strong model's
    expected quality; ``threshold_for_strong_share(s)`` the one that sends a share ``s`` of
    requests to the strong model.
    """

    def score(self, request: ChatRequest) -> float: ...
    def threshold_for_quality(self, quality: float) -> float: ...
    def threshold_for_strong_share(self, share: float) -> float: ...


class Circuits(Protocol):
    """Whether a target (provider key id, model) is unavailable now: an open circuit or a
    key resting after a rate limit. Must not change any state."""

    def blocked(self, key: tuple[str, str]) -> bool: ...


Tier = Literal["weak", "middle", "strong", "only", "warm", "downgrade"]
_MAX_FLOAT = sys.float_info.max


def _finite(value: float) -> float:
    """JSON has no infinity: a threshold no score reaches is the largest float."""
    if math.isnan(value):
        return 0.0
    return max(-_MAX_FLOAT, min(_MAX_FLOAT, value))


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision:
    """Why the router chose what it chose."""

    policy: str
    model: str  # the chosen model id, as the client sees it
    score: float
    threshold: float
    tier: Tier
    reason: str
    reference: str
    knob: tuple[str, float]
    excluded: tuple[tuple[str, str], ...] = ()  # (model, reason code)
    scorer: str | None = None  # the scorer's model version
    thresholds: tuple[float, ...] = ()  # the ladder, lowest rung first (more than 2 candidates)
    cache: WarmChoice | None = None  # the prompt cache's say, when the conversation is warm

    def record(self) -> dict[str, object]:
        """The decision as the request record (and from there usage and audit) keep it."""
        out: dict[str, object] = {
            "policy": self.policy,
            "model": self.model,
            "score": self.score,
            "threshold": _finite(self.threshold),
            "tier": self.tier,
            "reason": self.reason,
            "reference": self.reference,
            self.knob[0]: self.knob[1],
        }
        if len(self.thresholds) > 1:
            out["thresholds"] = [_finite(t) for t in self.thresholds]
        if self.cache is not None:
            out["cache"] = self.cache.record()
        if self.excluded:
            out["excluded"] = [{"model": m, "reason": r} for m, r in self.excluded]
        if self.scorer is not None:
            out["scorer"] = self.scorer
        return out

    def header(self) -> str:
        """The ``x-keyroute-route`` header value: the same object as compact ASCII JSON."""
        return json.dumps(self.record(), separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    routes: list[Route]
    decision: RouteDecision


@dataclass(slots=True)
class _Sorting:
    """The candidates as they are sorted: kept in policy order, removed with their reason."""

    kept: list[tuple[str, list[Route]]] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    unavailable: bool = False  # some removal was for availability, not the request
    first_param: str | None = None
    first_detail: str | None = None


class AutoRouter:
    """Plans ``auto`` requests. ``scorer`` is loaded on first use (or by ``warm``)."""

    def __init__(
        self,
        *,
        resolver: ModelResolver,
        catalogue: Catalogue,
        scorer: Callable[[], DifficultyScorer],
        warmth: CacheWarmth | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._resolver = resolver
        self._catalogue = catalogue
        self._load = scorer
        self._warmth = warmth
        self._today = today
        self._scorer: DifficultyScorer | None = None
        self._thresholds: dict[tuple[str, float], float] = {}
        self._ladders: dict[tuple[tuple[str, float], int], tuple[float, ...]] = {}

    def warm(self) -> DifficultyScorer:
        """Load the scorer now (``keyroute serve`` does at start, off the first request)."""
        if self._scorer is None:
            self._scorer = self._load()
        return self._scorer

    @staticmethod
    def routes(model: str) -> bool:
        """Whether ``model`` asks for routing (``auto`` or ``auto:<policy>``)."""
        return policy_name(model) is not None

    def policy(self, state: WorkspaceState, model: str) -> RoutingPolicy:
        """The policy ``model`` names for this workspace (404 ``model`` if there is none)."""
        name = policy_name(model) or self.default_name(state)
        if name is None:
            raise InvalidRequest(
                "This workspace has no provider key a shipped routing policy uses and no "
                "default policy: set one with `keyroute routing set --default`.",
                param="model",
            )
        for record in state.routing:
            if record.name == name:
                return RoutingPolicy.of(record)
        shipped = SHIPPED.get(name)
        if shipped is None:
            raise NotFound(
                f"The routing policy '{name}' does not exist in this workspace.", param="model"
            )
        return shipped

    @staticmethod
    def default_name(state: WorkspaceState) -> str | None:
        for record in state.routing:
            if record.is_default:
                return record.name
        return implicit_default(k.provider for k in state.provider_keys)

    def threshold(self, policy: RoutingPolicy) -> float:
        knob = policy.knob
        cached = self._thresholds.get(knob)
        if cached is None:
            scorer = self.warm()
            kind, value = knob
            if kind == "max_strong_share":
                cached = scorer.threshold_for_strong_share(value)
            else:
                cached = scorer.threshold_for_quality(value)
            self._thresholds[knob] = cached
        return cached

    def ladder(self, policy: RoutingPolicy, candidates: int) -> tuple[float, ...]:
        """The thresholds splitting the scores between ``candidates`` remaining candidates."""
        key = (policy.knob, candidates)
        cached = self._ladders.get(key)
        if cached is None:
            scorer = self.warm()
            cached = ladder(self.threshold(policy), candidates, scorer.threshold_for_strong_share)
            self._ladders[key] = cached
        return cached

    def plan(
        self,
        state: WorkspaceState,
        model: str,
        request: ChatRequest,
        *,
        fallbacks: Sequence[str] = (),
        circuits: Circuits | None = None,
        downgrade_to: str | None = None,
    ) -> Plan:
        """The routes to try for ``request`` (model ``auto`` or ``auto:<policy>``), in order,
        and the decision that ordered them."""
        policy = self.policy(state, model)
        scorer = self.warm()
        score = scorer.score(request)
        version = getattr(scorer, "version", None)
        threshold = self.threshold(policy)
        needs = Needs.of(request)
        sorting = self._sort(state, policy, needs, circuits, downgrade_to)
        if downgrade_to is not None and not sorting.kept:
            return self._downgraded(state, policy, score, threshold, downgrade_to, sorting)
        if not sorting.kept:
            raise self._nothing_left(policy, sorting)
        kept = sorting.kept
        thresholds = self.ladder(policy, len(kept))
        quality = rung(score, thresholds)
        tier, reason = _placed(quality, len(kept))
        index = quality
        cache = self._cache_say(state, request, needs, kept, quality) if len(kept) > 1 else None
        if cache is not None:
            index = cache.index
            reason = f"{reason}; {cache.reason}"
            if cache.outcome == "stay":
                tier = "warm"
        ordered = [
            kept[index],
            *(c for c in kept[quality:] if c is not kept[index]),
            *kept[:quality][::-1],
        ]
        routes = self._dedup([r for _, group in ordered for r in group], state, fallbacks)
        decision = RouteDecision(
            policy=policy.name,
            model=routes[0].model_id,
            score=score,
            threshold=threshold,
            tier=tier,
            reason=reason,
            reference=policy.reference,
            knob=policy.knob,
            excluded=tuple(sorting.excluded),
            scorer=version if isinstance(version, str) else None,
            thresholds=thresholds,
            cache=cache,
        )
        return Plan(routes=routes, decision=decision)

    def _cache_say(
        self,
        state: WorkspaceState,
        request: ChatRequest,
        needs: Needs,
        kept: list[tuple[str, list[Route]]],
        quality: int,
    ) -> WarmChoice | None:
        """The prompt cache's say on the ladder's choice (``warm``), when the conversation is
        warm on some candidate of this workspace."""
        if self._warmth is None:
            return None
        warm = self._warmth.warm_models(state.workspace.id, request)
        if not warm:
            return None
        settings = state.caching
        options = []
        for model, group in kept:
            target = group[0].target
            style = group[0].provider.capabilities.prompt_cache
            options.append(
                Option(
                    model=model,
                    entry=self._catalogue.get(target.provider, target.model),
                    warm=warm.get((target.provider, target.model), 0),
                    writes=style != "breakpoints" or settings.prompt_cache == "auto",
                )
            )
        return choose(
            options,
            quality,
            prompt=needs.prompt,
            output=expected_output(request),
            day=self._today(),
            ttl=settings.prompt_cache_ttl,
        )

    def _sort(
        self,
        state: WorkspaceState,
        policy: RoutingPolicy,
        needs: Needs,
        circuits: Circuits | None,
        downgrade_to: str | None,
    ) -> _Sorting:
        sorting = _Sorting()
        capped = downgrade_to is not None and downgrade_to in policy.candidates
        for position, candidate in enumerate(policy.candidates):
            if capped and position > policy.candidates.index(downgrade_to or ""):
                sorting.excluded.append((candidate, "budget_downgrade"))
                continue
            try:
                group = self._resolver.candidates(state, candidate)
            except GatewayError:
                sorting.excluded.append((candidate, "no_provider_key"))
                sorting.unavailable = True
                continue
            first = group[0]
            missing = unmet(needs, self._catalogue.get(first.target.provider, first.target.model))
            if missing is not None:
                sorting.excluded.append((candidate, missing.code))
                if sorting.first_param is None:
                    sorting.first_param, sorting.first_detail = missing.param, missing.detail
                continue
            if circuits is not None:
                group = [r for r in group if not circuits.blocked(r.health_key)]
                if not group:
                    sorting.excluded.append((candidate, "circuit_open"))
                    sorting.unavailable = True
                    continue
            sorting.kept.append((candidate, group))
        if downgrade_to is not None and not capped:
            # The downgrade model is not a candidate: it alone serves the request.
            sorting.excluded.extend((c, "budget_downgrade") for c, _ in sorting.kept)
            sorting.kept.clear()
        return sorting

    def _downgraded(
        self,
        state: WorkspaceState,
        policy: RoutingPolicy,
        score: float,
        threshold: float,
        model: str,
        sorting: _Sorting,
    ) -> Plan:
        routes = self._resolver.candidates(state, model)
        decision = RouteDecision(
            policy=policy.name,
            model=routes[0].model_id,
            score=score,
            threshold=threshold,
            tier="downgrade",
            reason="a budget downgrade is in force: its model serves the request",
            reference=policy.reference,
            knob=policy.knob,
            excluded=tuple(sorting.excluded),
        )
        return Plan(routes=routes, decision=decision)

    def _dedup(
        self, routes: list[Route], state: WorkspaceState, fallbacks: Sequence[str]
    ) -> list[Route]:
        for other in fallbacks:
            try:
                routes.extend(self._resolver.candidates(state, other))
            except GatewayError:
                continue
        seen: set[tuple[str, str]] = set()
        unique = []
        for route in routes:
            if route.health_key not in seen:
                seen.add(route.health_key)
                unique.append(route)
        return unique

    @staticmethod
    def _nothing_left(policy: RoutingPolicy, sorting: _Sorting) -> GatewayError:
        removed = ", ".join(f"{m} ({r})" for m, r in sorting.excluded)
        if sorting.first_param is not None and not sorting.unavailable:
            return InvalidRequest(
                f"No candidate of routing policy '{policy.name}' can serve this request: "
                f"{removed}. The first candidate refused: {sorting.first_detail}.",
                param=sorting.first_param,
            )
        if all(r == "no_provider_key" for _, r in sorting.excluded):
            return InvalidRequest(
                f"This workspace has no provider key for any candidate of routing policy "
                f"'{policy.name}' ({removed}). Add one with `keyroute provider-key add`.",
                param="model",
            )
        return NoRouteAvailable(
            f"No candidate of routing policy '{policy.name}' is available now: {removed}."
        )


def _placed(index: int, candidates: int) -> tuple[Tier, str]:
    """The tier and reason of the ladder's choice ``index`` of ``candidates``."""
    if candidates == 1:
        return "only", "the only candidate that can serve this request"
    if index == candidates - 1:
        return "strong", "score at or above the threshold: the strongest capable candidate"
    if index == 0:
        lowest = "the threshold" if candidates == 2 else "the ladder's lowest threshold"
        return "weak", f"score below {lowest}: the cheapest capable candidate"
    return "middle", (
        f"score at or above the ladder's threshold {index} of {candidates - 1} and below the "
        f"next: candidate {index + 1} of {candidates}, cheapest first"
    )
