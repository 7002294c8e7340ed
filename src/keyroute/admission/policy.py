"""What admission enforces for one workspace: its plan's quota, rate limits and budgets.

These are plain frozen values. The governance settings (``keyroute workspace set-plan``,
``keyroute budget``, ``keyroute ratelimit`` and their admin routes) store them; the workspace
state (``WorkspaceState.limits``) carries them to the request path; admission reads them and
never stores anything but ledger entries. ``Limits()`` (no plan quota, no rate limit, no budget)
admits everything.

Invariants:

- Every value is checked when it is built (``ValueError`` naming the field), so the request path
  never meets a negative cap, an unknown time zone or a ``downgrade`` without its model.
- Money is integer pico-dollars (``core.money``), never a float.
- Periods (the quota's month, a budget's day and month) are calendar periods in ``Limits.timezone``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Scope = Literal["workspace", "key", "user"]
"""Who a limit counts: the whole workspace, one gateway key (by id), one end-user tag."""

BudgetAction = Literal["block", "downgrade"]

DEFAULT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)


def _non_negative(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"{name} must be a whole number >= 0 or unlimited, not {value!r}")


def _subject(scope: Scope, subject: str | None) -> None:
    if scope not in ("workspace", "key", "user"):
        raise ValueError(f"scope must be workspace, key or user, not {scope!r}")
    if (scope == "workspace") != (subject is None):
        raise ValueError(
            "a workspace-wide limit has no subject"
            if scope == "workspace"
            else f"a {scope} limit names its {scope} (subject)"
        )


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``ValueError`` naming it if unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Paris)"
        ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanQuota:
    """The workspace's plan and its monthly request quota (``None``: unlimited)."""

    name: str = "custom"
    monthly_requests: int | None = None

    def __post_init__(self) -> None:
        _non_negative("monthly_requests", self.monthly_requests)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """Requests and tokens per minute for the workspace or one gateway key (``None``: no limit
    on that axis). Tokens are the input estimate at admission, corrected at settlement."""

    scope: Literal["workspace", "key"] = "workspace"
    subject: str | None = None  # the gateway key's id for ``scope="key"``
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def __post_init__(self) -> None:
        if self.scope == "user":  # type: ignore[comparison-overlap]
            raise ValueError("rate limits apply to the workspace or a gateway key, not a user")
        _subject(self.scope, self.subject)
        _non_negative("requests_per_minute", self.requests_per_minute)
        _non_negative("tokens_per_minute", self.tokens_per_minute)


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Daily and monthly USD caps (pico-dollars, ``None``: no cap for that period) for the
    workspace, one gateway key or one end-user tag. At a cap, ``block`` refuses the request and
    ``downgrade`` serves it with ``downgrade_to`` (a model id of the workspace). ``thresholds``
    are the percentages of a cap whose crossing is published as an event."""

    scope: Scope = "workspace"
    subject: str | None = None  # a gateway key id, or an end-user tag
    daily_pico: int | None = None
    monthly_pico: int | None = None
    action: BudgetAction = "block"
    downgrade_to: str | None = None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        _subject(self.scope, self.subject)
        _non_negative("daily_pico", self.daily_pico)
        _non_negative("monthly_pico", self.monthly_pico)
        if self.action not in ("block", "downgrade"):
            raise ValueError(f"action must be block or downgrade, not {self.action!r}")
        if (self.action == "downgrade") != bool(self.downgrade_to):
            raise ValueError(
                "action downgrade needs downgrade_to (a model)"
                if self.action == "downgrade"
                else "downgrade_to is only for action downgrade"
            )
        if list(self.thresholds) != sorted(set(self.thresholds)) or any(
            isinstance(t, bool) or not 0 < t <= 100 for t in self.thresholds
        ):
            raise ValueError(
                f"thresholds are increasing percentages from 1 to 100, not {self.thresholds!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Everything admission enforces for one workspace."""

    plan: PlanQuota = PlanQuota()
    timezone: str = "UTC"
    rate_limits: tuple[RateLimit, ...] = ()
    budgets: tuple[Budget, ...] = ()
    zoneinfo: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zoneinfo", zone(self.timezone))
        seen: set[tuple[str, str | None]] = set()
        limits: list[RateLimit | Budget] = [*self.rate_limits, *self.budgets]
        for limit in limits:
            where = (f"{type(limit).__name__}:{limit.scope}", limit.subject)
            if where in seen:
                raise ValueError(f"two {where[0]} limits for {limit.subject or 'the workspace'}")
            seen.add(where)

    @property
    def unlimited(self) -> bool:
        """True when nothing is enforced (admission then costs one attribute read)."""
        return self.plan.monthly_requests is None and not self.rate_limits and not self.budgets

    @property
    def downgrade_model(self) -> str | None:
        """The model of the workspace-wide budget's ``downgrade`` action, if it has one."""
        for budget in self.budgets:
            if budget.scope == "workspace" and budget.downgrade_to:
                return budget.downgrade_to
        return None

    def rate_limits_for(self, key_id: str) -> list[RateLimit]:
        """The rate limits a request through gateway key ``key_id`` counts against."""
        return [r for r in self.rate_limits if r.subject is None or r.subject == key_id]

    def budgets_for(self, key_id: str, user: str | None) -> list[Budget]:
        """The budgets a request through ``key_id`` for end user ``user`` counts against."""
        return [
            b
            for b in self.budgets
            if b.scope == "workspace"
            or (b.scope == "key" and b.subject == key_id)
            or (b.scope == "user" and user is not None and b.subject == user)
        ]


NO_LIMITS = Limits()
"""A workspace with no plan quota, rate limit or budget."""
