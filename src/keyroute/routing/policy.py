"""Routing policies: what ``model: "auto"`` and ``model: "auto:<name>"`` mean for a workspace.

A policy names its candidate models from the cheapest to the strongest, a reference model (what
the workspace would otherwise use: the routing saving is measured against it) and one quality
knob: ``quality`` (keep that share of the strongest model's expected quality) or
``max_strong_share`` (send at most that share of requests to the strongest model).

Policies ship for each provider family (``openai``, ``anthropic``, ``gemini``, the simulated
``demo``) and one ``cross-provider``; a workspace may define its own (a policy of its own with a
shipped name replaces the shipped one). ``model: "auto"`` takes the workspace's default policy;
without one, the shipped policy of the one provider family the workspace holds keys for, or
``cross-provider`` when it holds keys of several.

Invariants:
- A policy is checked once, when it is set (``check_policy``): names, model ids, at least two
  distinct candidates, a priceable ``provider/model`` reference, exactly one knob in range.
- Reading the policy of a request is a dictionary lookup on the workspace state: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from keyroute.core.errors import InvalidRequest
from keyroute.providers import registry
from keyroute.routing.model_id import check_model_id
from keyroute.storage.base import RoutingPolicyRecord

AUTO = "auto"
DEFAULT_QUALITY = 0.95
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingPolicy:
    """One routing policy, shipped or a workspace's own."""

    name: str
    candidates: tuple[str, ...]  # model ids, cheapest first
    reference: str  # ``provider/model``
    quality: float | None = None
    max_strong_share: float | None = None
    shipped: bool = False

    @property
    def knob(self) -> tuple[str, float]:
        """The quality knob: ``("quality", q)`` or ``("max_strong_share", s)``."""
        if self.max_strong_share is not None:
            return ("max_strong_share", self.max_strong_share)
        return ("quality", self.quality if self.quality is not None else DEFAULT_QUALITY)

    @classmethod
    def of(cls, record: RoutingPolicyRecord) -> RoutingPolicy:
        return cls(
            name=record.name,
            candidates=record.candidates,
            reference=record.reference,
            quality=record.quality,
            max_strong_share=record.max_strong_share,
        )


def _shipped(name: str, *candidates: str) -> RoutingPolicy:
    return RoutingPolicy(
        name=name,
        candidates=candidates,
        reference=candidates[-1],
        quality=DEFAULT_QUALITY,
        shipped=True,
    )


SHIPPED: Mapping[str, RoutingPolicy] = {
    p.name: p
    for p in (
        _shipped("openai", "openai/gpt-4.1-mini", "openai/gpt-4.1"),
        _shipped("anthropic", "anthropic/claude-haiku-5-5", "anthropic/claude-sonnet-5-5"),
        _shipped("gemini", "gemini/gemini-3.5-flash", "gemini/gemini-3.1-pro-preview"),
        _shipped("demo", "demo/fast", "demo/smart"),
        _shipped(
            "cross-provider",
            "anthropic/claude-haiku-5-5",
            "openai/gpt-4.1-mini",
            "gemini/gemini-3.5-flash",
            "openai/gpt-4.1",
            "gemini/gemini-3.1-pro-preview",
            "anthropic/claude-sonnet-5-5",
        ),
    )
}
"""The policies every workspace has. ``reference`` is the strongest candidate."""

_FAMILIES = ("openai", "anthropic", "gemini")
CROSS_PROVIDER = "cross-provider"


def policy_name(model: str) -> str | None:
    """``""`` for ``auto`` (the default policy), the name for ``auto:<name>``, else ``None``."""
    if model == AUTO:
        return ""
    if model.startswith(AUTO + ":"):
        return model[len(AUTO) + 1 :]
    return None


def implicit_default(providers: Iterable[str]) -> str | None:
    """The shipped policy ``auto`` means for a workspace without a default of its own, from
    the providers it holds keys for."""
    held = set(providers)
    families = [f for f in _FAMILIES if f in held]
    if len(families) > 1:
        return CROSS_PROVIDER
    if families:
        return families[0]
    return "demo" if "demo" in held else None


def effective_policies(records: Sequence[RoutingPolicyRecord]) -> dict[str, RoutingPolicy]:
    """Every policy of a workspace by name: the shipped ones, replaced by its own."""
    policies = dict(SHIPPED)
    policies.update({r.name: RoutingPolicy.of(r) for r in records})
    return policies


def check_name(name: str) -> str:
    if name == "report":  # the admin API's /routing/report
        raise InvalidRequest("'report' is reserved; choose another policy name.", param="policy")
    if not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid policy name {ascii(name[:80])}: use 1-63 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter or digit.",
            param="policy",
        )
    return name


def check_reference(model: str) -> str:
    """A reference is priced by provider and model: ``provider/model``, or a bare name of a
    well-known family (``gpt-4.1`` is ``openai/gpt-4.1``)."""
    check_model_id(model, param="reference")
    if "/" not in model:
        family = registry.provider_for_bare_model(model)
        if family is None:
            raise InvalidRequest(
                f"The reference {ascii(model)} needs its provider: 'provider/model' "
                "(for example 'openai/gpt-4.1').",
                param="reference",
            )
        model = f"{family}/{model}"
    provider = model.partition("/")[0]
    if provider not in registry.provider_names():
        raise InvalidRequest(
            f"The reference {ascii(model)} does not start with a provider id "
            f"({', '.join(sorted(registry.provider_names()))}).",
            param="reference",
        )
    return model


def check_knob(
    quality: float | None, max_strong_share: float | None
) -> tuple[float | None, float | None]:
    """Exactly one knob in range (``quality`` 0.95 when neither is given)."""
    if quality is not None and max_strong_share is not None:
        raise InvalidRequest(
            "Give one quality knob: quality or max_strong_share, not both.",
            param="max_strong_share",
        )
    if max_strong_share is not None:
        if not 0.0 <= max_strong_share <= 1.0:
            raise InvalidRequest(
                f"max_strong_share must be from 0 to 1, not {max_strong_share}.",
                param="max_strong_share",
            )
        return None, float(max_strong_share)
    q = DEFAULT_QUALITY if quality is None else quality
    if not 0.0 < q <= 1.0:
        raise InvalidRequest(f"quality must be above 0 and at most 1, not {q}.", param="quality")
    return float(q), None


def check_candidates(candidates: Sequence[str]) -> tuple[str, ...]:
    models = tuple(c.strip() for c in candidates)
    if len(models) < 2:
        raise InvalidRequest(
            "A routing policy needs at least two candidate models, cheapest first.",
            param="candidates",
        )
    if len(models) > 16:
        raise InvalidRequest("A routing policy has at most 16 candidates.", param="candidates")
    for model in models:
        check_model_id(model, param="candidates")
        if policy_name(model) is not None:
            raise InvalidRequest(
                f"A candidate cannot be another routed model ('{model}').", param="candidates"
            )
    if len(set(models)) != len(models):
        raise InvalidRequest("The candidates repeat a model.", param="candidates")
    return models


def routed_models(
    records: Sequence[RoutingPolicyRecord], providers: Iterable[str]
) -> dict[str, str]:
    """What ``GET /v1/models`` lists for routing (``model id -> owner``): ``auto`` when the
    workspace has a default policy, and ``auto:<name>`` for each of its own policies and each
    shipped one with a candidate it holds a key for."""
    held = set(providers)
    names = [r.name for r in records]
    names += [
        p.name
        for p in SHIPPED.values()
        if p.name not in names and any(c.partition("/")[0] in held for c in p.candidates)
    ]
    listed: dict[str, str] = {}
    if any(r.is_default for r in records) or implicit_default(held) is not None:
        listed[AUTO] = "keyroute"
    listed.update({f"{AUTO}:{name}": "keyroute" for name in sorted(names)})
    return listed
