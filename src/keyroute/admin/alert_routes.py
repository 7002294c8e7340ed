"""Admin API for burn-rate alerts, under ``/admin/v1/workspaces/{workspace}/alerts``, and
pausing gateway keys. Handlers parse, call ``AlertAdmin`` / ``ControlPlane``, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from keyroute.alerts.rules import FIELDS
from keyroute.control.alerts import (
    channel_view,
    downgrade_view,
    event_view,
    rule_spec,
    rule_view,
)
from keyroute.core.errors import InvalidRequest
from keyroute.services import Services

Payload = Callable[[Request, Services], Awaitable[dict[str, Any]]]
Handler = Callable[[Request, Services], Awaitable[Any]]

_CHANNEL_FIELDS = frozenset({"name", "webhook", "slack", "email", "secret"})
_RULE_FIELDS = frozenset({"name", "channel", *FIELDS})


def _ws(request: Request) -> str:
    return str(request.path_params["workspace"])


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidRequest(f"'{key}' must be a string or a number.", param=key)
    text = str(value)
    if required and not text:
        raise InvalidRequest(f"'{key}' must not be empty.", param=key)
    return text


def _unknown(data: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])


def rule_fields(data: dict[str, Any]) -> dict[str, str | bool | None]:
    """A rule's fields of an admin request body, type-checked: numbers and text as text,
    ``projection`` true or false (``alerts.rules.rule_input`` checks the rest)."""
    _unknown(data, _RULE_FIELDS)
    projection = data.get("projection", False)
    if not isinstance(projection, bool):
        raise InvalidRequest("'projection' must be true or false.", param="projection")
    fields: dict[str, str | bool | None] = {k: _text(data, k) for k in FIELDS if k != "projection"}
    fields["projection"] = projection
    return fields


def _strings(data: dict[str, Any], keys: frozenset[str]) -> None:
    for key in keys:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InvalidRequest(f"'{key}' must be a string.", param=key)


async def list_rules(request: Request, s: Services) -> Any:
    rules = await s.alert_admin.list_rules(_ws(request))
    return {"data": [rule_view(r, ch, st) for r, ch, st in rules]}


async def add_rule(request: Request, s: Services, payload: Payload) -> Any:
    data = await payload(request, s)
    spec = rule_spec(rule_fields(data))
    name = _text(data, "name", required=True) or ""
    channel = _text(data, "channel", required=True) or ""
    record = await s.alert_admin.add_rule(_ws(request), name, channel, spec)
    return rule_view(record, channel, None)


async def remove_rule(request: Request, s: Services) -> Any:
    name = str(request.path_params["name"])
    await s.alert_admin.remove_rule(_ws(request), name)
    return {"name": name, "removed": True}


async def test_rule(request: Request, s: Services) -> Any:
    return await s.alert_admin.test(_ws(request), str(request.path_params["name"]))


async def history(request: Request, s: Services) -> Any:
    query = request.query_params
    _unknown(dict(query), frozenset({"since", "limit"}))
    limit_text = query.get("limit", "200")
    if not limit_text.isdigit():
        raise InvalidRequest("'limit' must be a whole number.", param="limit")
    events = await s.alert_admin.history(
        _ws(request), since=query.get("since"), limit=int(limit_text)
    )
    return {"data": [event_view(e) for e in events]}


async def list_channels(request: Request, s: Services) -> Any:
    return {"data": [channel_view(c) for c in await s.alert_admin.list_channels(_ws(request))]}


async def add_channel(request: Request, s: Services, payload: Payload) -> Any:
    data = await payload(request, s)
    _unknown(data, _CHANNEL_FIELDS)
    _strings(data, _CHANNEL_FIELDS)
    added = await s.alert_admin.add_channel(
        _ws(request),
        data.get("name") or "",
        webhook=data.get("webhook"),
        slack=data.get("slack"),
        email=data.get("email"),
        secret=data.get("secret"),
    )
    view = channel_view(added.record)
    if added.secret is not None:
        view["secret"] = added.secret
    return view


async def remove_channel(request: Request, s: Services) -> Any:
    name = str(request.path_params["name"])
    await s.alert_admin.remove_channel(_ws(request), name)
    return {"name": name, "removed": True}


async def resume_downgrade(request: Request, s: Services) -> Any:
    ended = await s.alert_admin.resume(_ws(request))
    return {**downgrade_view(ended), "resumed": True}


async def pause_key(request: Request, s: Services) -> Any:
    key_id = str(request.path_params["key_id"])
    await s.control.pause_api_key(_ws(request), key_id)
    return {"id": key_id, "paused": True}


async def resume_key(request: Request, s: Services) -> Any:
    key_id = str(request.path_params["key_id"])
    await s.control.resume_api_key(_ws(request), key_id)
    return {"id": key_id, "paused": False}


def alert_handlers(payload: Payload) -> list[tuple[str, Handler, list[str], int]]:
    """``(path below the workspace, handler, methods, status)`` of every alert endpoint;
    ``payload`` reads a JSON body (the admin API's bounded reader)."""

    async def add_rule_(request: Request, s: Services) -> Any:
        return await add_rule(request, s, payload)

    async def add_channel_(request: Request, s: Services) -> Any:
        return await add_channel(request, s, payload)

    return [
        ("/alerts", list_rules, ["GET"], 200),
        ("/alerts", add_rule_, ["POST"], 201),
        ("/alerts/history", history, ["GET"], 200),
        ("/alerts/resume", resume_downgrade, ["POST"], 200),
        ("/alerts/channels", list_channels, ["GET"], 200),
        ("/alerts/channels", add_channel_, ["POST"], 201),
        ("/alerts/channels/{name}", remove_channel, ["DELETE"], 200),
        ("/alerts/{name}", remove_rule, ["DELETE"], 200),
        ("/alerts/{name}/test", test_rule, ["POST"], 200),
        ("/api-keys/{key_id}/pause", pause_key, ["POST"], 200),
        ("/api-keys/{key_id}/resume", resume_key, ["POST"], 200),
    ]
