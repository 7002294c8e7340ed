"""``Admission``: the stage that reserves a request's worst case before it is sent.

For each request the pipeline asks ``admit`` with a ``Demand`` (who, the input-token estimate,
the worst-case cost: the estimate plus the most output the request allows, at the workspace's
price). Admission turns the workspace's ``Limits`` into ledger charges (one request on the
plan's month, one request and the estimated tokens on each applicable rate limit's bucket, the
worst case on each applicable budget's day and month) and reserves them all at once: either every
limit has room and the request goes on with a ``Ticket``, or nothing is held and the request is
refused with the error of the first limit that has no room (``QuotaExceeded``,
``RequestsLimited``, ``BudgetExceeded``). A budget whose action is ``downgrade`` asks again
with the workspace's cheaper model before it refuses.

The ``Ticket`` settles once, from the ``Meter`` when the frame finishes the request: the request
counts on the quota if an upstream answered it, tokens and cost as recorded (so a failed request
releases its budget hold, and a stream the client abandoned is billed for what it streamed).

A rate limit of N a minute is a bucket on the ledger (``Charge.window`` of 60 s): a burst of at
most N, refilled continuously at N a minute, so that no window edge lets 2N through at once as
fixed minute windows did; ``x-ratelimit-reset-*`` is the time until the bucket is full again,
as OpenAI means it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from keyroute.admission.events import ThresholdCrossed, ThresholdEvents
from keyroute.admission.headers import Headers, Kind, Line, quota_headers, rate_headers
from keyroute.admission.periods import Calendar, Periods, calendar
from keyroute.admission.policy import Budget, Limits, RateLimit, zone
from keyroute.core.errors import BudgetExceeded, QuotaExceeded, RateLimited, RequestsLimited
from keyroute.core.money import usd_text
from keyroute.core.record import RequestRecord
from keyroute.ledger import Charge, Hold, Ledger, Shortfall


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand:
    """What one request asks of its workspace's limits."""

    workspace_id: str
    key_id: str
    user: str | None  # the end-user tag
    tokens: int  # the input estimate
    cost: int | None  # the worst case in pico-dollars (None: the model has no known price)


_COUNTED = ("quota", "requests")
# What each kind of charge settles: the request if served, the request, tokens used, cost paid.
_SOURCE = {"quota": 0, "requests": 1, "tokens": 2, "daily": 3, "monthly": 3}
_MAX_PLANS = 10_000
Span = Literal["month", "day", "minute"]
RATE_WINDOW = 60.0  # rate limits are per minute: a bucket refills its cap in this many seconds
BUCKET = "bucket"  # the period of every rate-limit counter: a bucket never ends
_NEVER = math.inf
# A ``Charge`` from its six fields without the named tuple's Python-level ``__new__``: one is
# made per limit per request.
_charge = functools.partial(tuple.__new__, Charge)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The counters one request counts on (for one ``Limits``, gateway key and end user):
    ``(counter, cap, line, span)`` each; ``rates`` the indexes of the rate-limit charges."""

    entries: tuple[tuple[str, int, Line, Span], ...]
    lines: tuple[Line, ...]
    rates: tuple[tuple[Literal["requests", "tokens"], tuple[int, ...]], ...]
    sources: tuple[int, ...]  # per charge, what it settles (an index, ``_SOURCE``)


def _plan_of(limits: Limits, demand: Demand) -> _Plan:
    ws = demand.workspace_id
    entries: list[tuple[str, int, Line, Span]] = []
    quota = limits.plan.monthly_requests
    if quota is not None:
        entries.append((f"q:{ws}", quota, Line("quota"), "month"))
    for rate in limits.rate_limits_for(demand.key_id):
        name = f"{ws}:{rate.subject}" if rate.subject else ws
        if rate.requests_per_minute is not None:
            line = Line("requests", rate)
            entries.append((f"rpm:{name}", rate.requests_per_minute, line, "minute"))
        if rate.tokens_per_minute is not None:
            line = Line("tokens", rate)
            entries.append((f"tpm:{name}", rate.tokens_per_minute, line, "minute"))
    for budget in limits.budgets_for(demand.key_id, demand.user):
        name = budget_counter(ws, budget)
        if budget.daily_pico is not None:
            entries.append((f"{name}:d", budget.daily_pico, Line("daily", budget), "day"))
        if budget.monthly_pico is not None:
            entries.append((f"{name}:m", budget.monthly_pico, Line("monthly", budget), "month"))
    lines = tuple(e[2] for e in entries)
    rates = tuple(
        (kind, tuple(i for i, line in enumerate(lines) if line.kind == kind))
        for kind in ("requests", "tokens")
    )
    return _Plan(
        entries=tuple(entries),
        lines=lines,
        rates=tuple(r for r in rates if r[1]),  # type: ignore[misc]
        sources=tuple(_SOURCE[line.kind] for line in lines),
    )


def budget_counter(workspace_id: str, budget: Budget) -> str:
    """The ledger counter of ``budget`` (``:d`` and ``:m`` follow, for its day and month)."""
    return f"b:{workspace_id}:{budget.scope}:{budget.subject or ''}"


class Ticket:
    """One admitted request's hold on the ledger; ``settle`` runs once."""

    __slots__ = ("_hold", "_ledger", "_sources", "downgraded_from", "downgraded_to")

    def __init__(self, ledger: Ledger | None, hold: Hold | None, sources: tuple[int, ...]) -> None:
        self._ledger = ledger
        self._hold = hold
        self._sources = sources  # per charge, what it settles (an index, ``_SOURCE``)
        self.downgraded_to: str | None = None
        self.downgraded_from: str | None = None

    def settle(self, record: RequestRecord) -> None:
        """What the request used, as recorded: called by the ``Meter`` when it finishes."""
        hold, ledger = self._hold, self._ledger
        if hold is None or ledger is None or not hold.open:
            return
        usage = record.usage
        cost = record.cost
        paid = cost.paid_pico if cost is not None and cost.paid_pico is not None else 0
        if usage is None:  # indexed by _SOURCE: what each kind settles
            values = (0, 1, 0, paid)
        else:
            values = (1, 1, usage.input_tokens + usage.output_tokens, paid)
        ledger.settle(hold, [values[source] for source in self._sources])


NO_LIMITS_TICKET = Ticket(None, None, ())


class Admission:
    def __init__(
        self,
        ledger: Ledger,
        *,
        events: ThresholdEvents | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.events = events or ThresholdEvents()
        self.periods = Periods(clock)
        self._clock = clock
        # budget counter -> (workspace, budget, period kind), for threshold crossings
        self._budgets: dict[str, tuple[str, Budget, Kind]] = {}
        # (id(limits), key, user) -> (limits, what such a request counts on)
        self._plans: dict[tuple[int, str, str | None], tuple[Limits, _Plan]] = {}

    async def admit(
        self,
        limits: Limits,
        demand: Demand,
        headers: Headers,
        downgrade: Callable[[str], Awaitable[int | None]] | None = None,
    ) -> Ticket:
        """Reserve ``demand`` against ``limits``, or raise the refusal; headers for the
        client (quota and rate-limit state) are appended to ``headers`` either way."""
        if limits.unlimited:
            return NO_LIMITS_TICKET
        now = self._clock()
        calendar = self.periods.calendar(limits.zoneinfo, now)
        plan = self._plan(limits, demand)
        lines = plan.lines
        charges = self._charges(plan, demand, demand.cost, calendar, now)
        result = await self.ledger.reserve(charges)
        downgraded_to = None
        if isinstance(result, Shortfall) and downgrade is not None:
            line = lines[result.index]
            budget = line.limit
            if isinstance(budget, Budget) and budget.downgrade_to:
                cost = await downgrade(budget.downgrade_to)
                charges = self._charges(plan, demand, cost, calendar, now)
                retry = await self.ledger.reserve(charges)
                if isinstance(retry, Hold):
                    result, downgraded_to = retry, budget.downgrade_to
        remaining = result.remaining
        headers.extend(quota_headers(limits, calendar, charges, lines, remaining))
        headers.extend(rate_headers(charges, plan.rates, remaining))
        if isinstance(result, Shortfall):
            raise self._refusal(limits, lines[result.index], result, calendar, now)
        ticket = Ticket(self.ledger, result, plan.sources)
        ticket.downgraded_to = downgraded_to
        return ticket

    async def seed_budget(
        self,
        workspace_id: str,
        budget: Budget,
        timezone: str,
        at: float,
        *,
        daily_pico: int | None,
        monthly_pico: int | None,
    ) -> None:
        """Count what ``budget`` spent before it was enforced: its day's and month's counters
        (those containing ``at``) are raised to the spend already recorded (``None``: leave
        that period's counter alone). A budget set mid-period starts from what was spent."""
        cal = calendar(at, zone(timezone))
        name = budget_counter(workspace_id, budget)
        if daily_pico is not None and budget.daily_pico is not None:
            day = Charge(f"{name}:d", cal.day.id, budget.daily_pico, daily_pico, cal.day.end)
            await self.ledger.seed(day)
        if monthly_pico is not None and budget.monthly_pico is not None:
            month = cal.month
            await self.ledger.seed(
                Charge(f"{name}:m", month.id, budget.monthly_pico, monthly_pico, month.end)
            )

    def _plan(self, limits: Limits, demand: Demand) -> _Plan:
        """What a request of ``demand``'s key and user counts on, built once per limits."""
        key = (id(limits), demand.key_id, demand.user)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is limits:
            return cached[1]
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        plan = _plan_of(limits, demand)
        for counter, _, line, _ in plan.entries:
            if isinstance(line.limit, Budget):
                self._budgets[counter] = (demand.workspace_id, line.limit, line.kind)
        self._plans[key] = (limits, plan)
        return plan

    async def state_headers(self, limits: Limits, workspace_id: str, key_id: str) -> Headers:
        """The quota and rate-limit headers of an answer that reserved nothing (an error
        before admission, a model list): the ledger's room as this process knows it, with no
        reservation and, once a counter is known here, no I/O."""
        if limits.unlimited or (limits.plan.monthly_requests is None and not limits.rate_limits):
            return []
        now = self._clock()
        calendar = self.periods.calendar(limits.zoneinfo, now)
        demand = Demand(workspace_id=workspace_id, key_id=key_id, user=None, tokens=0, cost=None)
        plan = self._plan(limits, demand)
        charges = self._charges(plan, demand, 0, calendar, now)
        await self.ledger.refresh(charges)
        remaining = self.ledger.peek(charges)
        return [
            *quota_headers(limits, calendar, charges, plan.lines, remaining),
            *rate_headers(charges, plan.rates, remaining),
        ]

    def _charges(
        self, plan: _Plan, demand: Demand, cost: int | None, calendar: Calendar, now: float
    ) -> list[Charge]:
        # At least one pico-dollar: a budget at its cap refuses even a request whose model has
        # no known price (its cost then settles as 0, recorded as unknown).
        spend = max(cost or 0, 1)
        tokens = demand.tokens
        charges = []
        for counter, cap, line, span in plan.entries:
            kind = line.kind
            amount = 1 if kind in _COUNTED else (tokens if kind == "tokens" else spend)
            if span == "minute":
                charges.append(_charge((counter, BUCKET, cap, amount, _NEVER, RATE_WINDOW)))
                continue
            period = calendar.month if span == "month" else calendar.day
            charges.append(_charge((counter, period.id, cap, amount, period.end, 0.0)))
        return charges

    def _refusal(
        self, limits: Limits, line: Line, refused: Shortfall, calendar: Calendar, now: float
    ) -> RateLimited:
        charge = refused.charge
        if line.kind in ("requests", "tokens"):
            return _rate_refusal(line, refused)
        resets = _when(charge.period_end, limits)
        if line.kind == "quota":
            return QuotaExceeded(
                f"Monthly request quota exceeded: the {limits.plan.name} plan allows "
                f"{charge.cap:,} requests a month, all used; the quota resets at {resets}.",
                retry_after=charge.period_end - now,
            )
        budget = line.limit
        assert isinstance(budget, Budget)  # noqa: S101 (lines are built with their limit)
        spent = max(0, refused.used)
        who = {
            "workspace": "this workspace",
            "key": "this gateway key",
            "user": f"end user {budget.subject!r}",
        }[budget.scope]
        return BudgetExceeded(
            f"The {line.kind} budget of ${usd_text(charge.cap)} for {who} is reached: "
            f"${usd_text(min(spent, charge.cap))} spent or held, and this request could cost "
            f"up to ${usd_text(charge.amount)}. The budget resets at {resets}.",
            retry_after=charge.period_end - now,
        )

    def settled(self, charge: Charge, before: int, after: int) -> None:
        """The ledger's ``Settled`` listener: publishes budget threshold crossings."""
        found = self._budgets.get(charge.counter)
        if found is None or charge.cap <= 0:
            return
        workspace_id, budget, kind = found
        for percent in budget.thresholds:
            mark = charge.cap * percent
            if before * 100 < mark <= after * 100:
                self.events.publish(
                    ThresholdCrossed(
                        workspace_id=workspace_id,
                        scope=budget.scope,
                        subject=budget.subject,
                        period=kind,  # type: ignore[arg-type]
                        period_id=charge.period,
                        percent=percent,
                        cap_pico=charge.cap,
                        spend_pico=after,
                        resets_at=charge.period_end,
                        action=budget.action,
                    )
                )


def _rate_refusal(line: Line, refused: Shortfall) -> RequestsLimited:
    """A bucket without room for this request: how long until it has (it drains at its cap a
    minute), in whole seconds, at least 1, the same in the message and in ``retry-after``."""
    charge = refused.charge
    rate = line.limit
    assert isinstance(rate, RateLimit)  # noqa: S101 (lines are built with their limit)
    unit = "requests" if line.kind == "requests" else "tokens"
    who = "this workspace" if rate.subject is None else "this gateway key"
    extra = ""
    if charge.amount > charge.cap:
        extra = f" This request alone is estimated at {charge.amount:,} tokens."
        wait = int(RATE_WINDOW)
    else:
        short = refused.used + charge.amount - charge.cap
        wait = min(int(RATE_WINDOW), max(1, math.ceil(short * RATE_WINDOW / charge.cap)))
    return RequestsLimited(
        f"Rate limit reached for {who}: {charge.cap:,} {unit} per minute.{extra} "
        f"Retry in {wait} s.",
        retry_after=wait,
    )


def _when(end: float, limits: Limits) -> str:
    """A reset time as the workspace sees it (ISO 8601 with its offset) and in UTC."""
    local = datetime.fromtimestamp(end, limits.zoneinfo)
    if limits.timezone == "UTC":
        return local.isoformat()
    utc = datetime.fromtimestamp(end, UTC).isoformat()
    return f"{local.isoformat()} ({limits.timezone}; {utc})"
