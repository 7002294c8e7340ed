"""Admin API routes for plans, rate limits and budgets, under ``/admin/v1/workspaces/{id}``.

``GET|PUT /plan``, ``GET|PUT|DELETE /ratelimits``, ``GET|PUT|DELETE /budgets``. A ``PUT`` body
names only what it changes: a field left out keeps its stored value, ``null`` lifts one cap or
one rate-limit axis. Whom a limit counts is ``key`` (a gateway key's name or id) or ``user``
(an end-user tag) in the body of a ``PUT`` and in the query of a ``GET`` or ``DELETE``; neither
is the workspace itself. A workspace always has a plan, so ``/plan`` has no ``DELETE``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from keyroute.admin.payload import payload
from keyroute.control.field_names import API_NAMES
from keyroute.control.governance import KEEP
from keyroute.control.governance_views import (
    budget_use_view,
    budget_view,
    plan_view,
    rate_limit_view,
)
from keyroute.core.errors import InvalidRequest
from keyroute.services import Services

Handler = Callable[[Request, Services], Awaitable[Any]]


def _ws(request: Request) -> str:
    return str(request.path_params["workspace"])


def _fields(data: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    return data


def _query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    query = dict(request.query_params)
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown query parameter '{unknown[0]}'.", param=unknown[0])
    return query


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidRequest(f"'{name}' must be a non-empty string.", param=name)
    return value


def _kept(data: dict[str, Any], name: str) -> object:
    return data[name] if name in data else KEEP


async def get_plan(request: Request, s: Services) -> Any:
    _query(request, frozenset())
    return plan_view(await s.control.governance.plan(_ws(request)))


_PLAN_FIELDS = frozenset({"plan", "quota", "monthly_requests", "timezone"})


async def put_plan(request: Request, s: Services) -> Any:
    """``plan``, ``quota`` (or ``monthly_requests``, as ``GET`` names it) and ``timezone``; each
    one left out keeps its stored value."""
    data = _fields(await payload(request, s), _PLAN_FIELDS)
    if not data:
        raise InvalidRequest(
            "Give what changes: 'plan', 'quota' (or 'monthly_requests'), 'timezone'.",
            param="plan",
        )
    plan = _kept(data, "plan")
    if plan is not KEEP and (not isinstance(plan, str) or not plan):
        raise InvalidRequest("'plan' must be a plan name such as build or custom.", param="plan")
    if "quota" in data and "monthly_requests" in data:
        raise InvalidRequest(
            "'quota' and 'monthly_requests' are the same field: give one.",
            param="monthly_requests",
        )
    quota = _kept(data, "quota") if "quota" in data else _kept(data, "monthly_requests")
    names = API_NAMES.renamed("quota", "monthly_requests") if "monthly_requests" in data else None
    state = await s.control.governance.set_plan(
        _ws(request),
        plan,
        quota=quota,
        timezone=_kept(data, "timezone"),
        names=names or API_NAMES,
    )
    return plan_view(state)


_SUBJECT = frozenset({"key"})


async def get_rate_limits(request: Request, s: Services) -> Any:
    query = _query(request, _SUBJECT)
    gov = s.control.governance
    workspace, found = await gov.rate_limits(_ws(request), query.get("key"))
    names = await gov.key_names(workspace)
    return {"data": [rate_limit_view(r, names) for r in found]}


_LIMIT_FIELDS = frozenset({"key", "requests_per_minute", "tokens_per_minute"})


async def put_rate_limit(request: Request, s: Services) -> Any:
    data = _fields(await payload(request, s), _LIMIT_FIELDS)
    gov = s.control.governance
    record = await gov.set_rate_limit(
        _ws(request),
        _text(data, "key"),
        requests_per_minute=_kept(data, "requests_per_minute"),
        tokens_per_minute=_kept(data, "tokens_per_minute"),
        names=API_NAMES,
    )
    names = await gov.key_names(await s.control.workspace(_ws(request)))
    return rate_limit_view(record, names)


async def delete_rate_limit(request: Request, s: Services) -> Any:
    query = _query(request, _SUBJECT)
    gov = s.control.governance
    record = await gov.clear_rate_limit(_ws(request), query.get("key"))
    names = await gov.key_names(await s.control.workspace(_ws(request)))
    return {**rate_limit_view(record, names), "deleted": True}


_WHOM = frozenset({"key", "user"})


async def get_budgets(request: Request, s: Services) -> Any:
    """The budgets (or one key's or user's) with today's and this month's spend."""
    query = _query(request, _WHOM)
    gov = s.control.governance
    workspace, found = await gov.budgets(_ws(request), query.get("key"), query.get("user"))
    state = await gov.plan(workspace.id)
    names = await gov.key_names(workspace)
    uses = await gov.budget_use(state.timezone, found)
    return {"data": [budget_use_view(u, names) for u in uses]}


_BUDGET_FIELDS = frozenset(
    {"key", "user", "daily_usd", "monthly_usd", "action", "downgrade_to", "thresholds"}
)


async def put_budget(request: Request, s: Services) -> Any:
    data = _fields(await payload(request, s), _BUDGET_FIELDS)
    gov = s.control.governance
    record = await gov.set_budget(
        _ws(request),
        _text(data, "key"),
        data.get("user"),
        daily=_kept(data, "daily_usd"),
        monthly=_kept(data, "monthly_usd"),
        action=_kept(data, "action"),
        downgrade_to=_kept(data, "downgrade_to"),
        thresholds=_kept(data, "thresholds"),
        names=API_NAMES,
    )
    names = await gov.key_names(await s.control.workspace(_ws(request)))
    return budget_view(record, names)


async def delete_budget(request: Request, s: Services) -> Any:
    query = _query(request, _WHOM)
    gov = s.control.governance
    record = await gov.clear_budget(_ws(request), query.get("key"), query.get("user"))
    names = await gov.key_names(await s.control.workspace(_ws(request)))
    return {**budget_view(record, names), "deleted": True}


GOVERNANCE_ROUTES: tuple[tuple[str, Handler, str], ...] = (
    ("/plan", get_plan, "GET"),
    ("/plan", put_plan, "PUT"),
    ("/ratelimits", get_rate_limits, "GET"),
    ("/ratelimits", put_rate_limit, "PUT"),
    ("/ratelimits", delete_rate_limit, "DELETE"),
    ("/budgets", get_budgets, "GET"),
    ("/budgets", put_budget, "PUT"),
    ("/budgets", delete_budget, "DELETE"),
)
"""(path under the workspace, handler, method)."""
