"""A workspace's resilience settings, typed: fallback chains, timeouts and provider-key weights.

Each is stored as one ``ResiliencePolicyRecord`` (kind, subject, JSON value) and read back into
``ResiliencePolicies``, which the request path holds in memory with the ``WorkspaceState``:

- ``fallback``: an ordered chain of model ids (or aliases) for a model or alias (``subject``),
  or for every model (``*``); ``next-best`` in a chain stands for the catalogue's closest models
  the workspace holds a key for (``next_best.py``). ``on_refusal`` makes a model's content
  refusal fail over too.
- ``timeouts``: any of connect, first byte, idle gap and total, for a model id or for the
  workspace (``*``); a model's setting overrides the workspace's, which overrides the server's.
- ``key_weight``: a provider key's share when several keys of one provider serve a model (the
  default is 1; 0 makes a key a standby, used only when the weighted keys are unavailable).

Parsing is strict on write (``parse_*`` raise ``ValueError`` naming the field) and tolerant on
read: a stored value this version cannot read is skipped, never fatal to the request path.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from keyroute.core.timeouts import Timeouts
from keyroute.storage.base import ResiliencePolicyRecord

NEXT_BEST = "next-best"
EVERY_MODEL = "*"
MAX_CHAIN = 8
MAX_WEIGHT = 1000
DEFAULT_WEIGHT = 1
KINDS = ("fallback", "timeouts", "key_weight")
TIMEOUT_FIELDS = ("connect", "first_byte", "idle", "total")

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackChain:
    """The models to try, in order, after the requested one fails."""

    models: tuple[str, ...]
    on_refusal: bool = False

    def dump(self) -> str:
        return json.dumps({"models": list(self.models), "on_refusal": self.on_refusal})

    @classmethod
    def parse(cls, text: str) -> FallbackChain:
        raw = _object(text)
        models = raw.get("models")
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ValueError("'models' must be a list of model ids")
        on_refusal = raw.get("on_refusal", False)
        if not isinstance(on_refusal, bool):
            raise ValueError("'on_refusal' must be true or false")
        return cls.of(models, on_refusal=on_refusal)

    @classmethod
    def of(cls, models: Iterable[str], *, on_refusal: bool = False) -> FallbackChain:
        chain = tuple(m.strip() for m in models)
        if not chain:
            raise ValueError("a fallback chain names at least one model (or next-best)")
        if len(chain) > MAX_CHAIN:
            raise ValueError(f"a fallback chain has at most {MAX_CHAIN} models")
        if len(set(chain)) != len(chain):
            raise ValueError("a fallback chain names each model once")
        if any(not m for m in chain):
            raise ValueError("a fallback chain's model ids are not empty")
        return cls(models=chain, on_refusal=on_refusal)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutPolicy:
    """Time limits in seconds; ``None`` keeps the inherited value."""

    connect: float | None = None
    first_byte: float | None = None
    idle: float | None = None
    total: float | None = None

    def dump(self) -> str:
        return json.dumps({f: getattr(self, f) for f in TIMEOUT_FIELDS if getattr(self, f)})

    @classmethod
    def parse(cls, text: str) -> TimeoutPolicy:
        return cls.of(_object(text))

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> TimeoutPolicy:
        unknown = sorted(set(values) - set(TIMEOUT_FIELDS))
        if unknown:
            raise ValueError(f"unknown timeout '{unknown[0]}' (use {', '.join(TIMEOUT_FIELDS)})")
        checked: dict[str, float] = {}
        for name, value in values.items():
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or not 0 < value <= 86_400:
                raise ValueError(f"timeout '{name}' must be a number of seconds in (0, 86400]")
            checked[name] = float(value)
        if not checked:
            raise ValueError(f"set at least one timeout ({', '.join(TIMEOUT_FIELDS)})")
        return cls(**checked)

    def over(self, base: Timeouts) -> Timeouts:
        """``base`` with this policy's limits laid over it."""
        return Timeouts(
            **{f: getattr(self, f) or getattr(base, f) for f in (x.name for x in fields(base))}
        )


def parse_weight(text: str) -> int:
    value = json.loads(text)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_WEIGHT:
        raise ValueError(f"a key weight is a whole number from 0 to {MAX_WEIGHT}")
    return value


def _object(text: str) -> dict[str, Any]:
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("the stored value is not a JSON object")
    return raw


@dataclass(frozen=True, slots=True)
class ResiliencePolicies:
    """One workspace's settings, as the request path reads them (all in memory)."""

    fallbacks: Mapping[str, FallbackChain] = field(default_factory=dict)
    timeouts: Mapping[str, TimeoutPolicy] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)  # provider key id -> weight

    @classmethod
    def load(cls, records: Iterable[ResiliencePolicyRecord]) -> ResiliencePolicies:
        fallbacks: dict[str, FallbackChain] = {}
        timeouts: dict[str, TimeoutPolicy] = {}
        weights: dict[str, int] = {}
        for record in records:
            try:
                if record.kind == "fallback":
                    fallbacks[record.subject] = FallbackChain.parse(record.value)
                elif record.kind == "timeouts":
                    timeouts[record.subject] = TimeoutPolicy.parse(record.value)
                elif record.kind == "key_weight":
                    weights[record.subject] = parse_weight(record.value)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                _log.warning(
                    "skipping unreadable %s setting %r of workspace %s: %s",
                    record.kind,
                    record.subject,
                    record.workspace_id,
                    exc,
                )
        return cls(fallbacks=fallbacks, timeouts=timeouts, weights=weights)

    def chain_for(self, *names: str) -> FallbackChain | None:
        """The chain of the first of ``names`` (the requested id, then what it resolved to) that
        has one, else the workspace's chain for every model."""
        for name in names:
            chain = self.fallbacks.get(name)
            if chain is not None:
                return chain
        return self.fallbacks.get(EVERY_MODEL)

    def timeouts_for(self, base: Timeouts, *model_ids: str) -> Timeouts:
        """``base`` (the server's limits) with the workspace's, then the model's laid over (the
        first of ``model_ids``, its ``provider/model`` id then the client's, that has one)."""
        result = base
        workspace = self.timeouts.get(EVERY_MODEL)
        if workspace is not None:
            result = workspace.over(result)
        for model_id in model_ids:
            policy = self.timeouts.get(model_id)
            if policy is not None:
                return policy.over(result)
        return result

    def weight(self, key_id: str) -> int:
        return self.weights.get(key_id, DEFAULT_WEIGHT)


NO_POLICIES = ResiliencePolicies()
