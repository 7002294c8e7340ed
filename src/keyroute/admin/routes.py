"""Admin API routes. Every CLI command has its endpoint here; both call ``ControlPlane``.

Errors use the OpenAI error JSON shape, like the data plane. Request bodies are read with the
data plane's bounded reader: over ``server.max_admin_body_bytes`` is a 413.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from keyroute.admin.alert_routes import alert_handlers
from keyroute.admin.governance_routes import GOVERNANCE_ROUTES
from keyroute.admin.payload import payload as _payload
from keyroute.admin.routing_routes import routing_handlers
from keyroute.api.asgi import ClientDisconnected
from keyroute.api.errors import as_gateway_error, render_error
from keyroute.api.request_ids import new_request_id
from keyroute.audit.bodies import BodyLogging
from keyroute.control.audit_log import Actor, ExportFilters, acting_as
from keyroute.control.caching import caching_view
from keyroute.control.governance_views import use_view
from keyroute.control.usage_views import usage_csv, usage_document
from keyroute.control.views import (
    alias_view,
    api_key_view,
    model_view,
    price_override_view,
    provider_key_view,
    provider_views,
    workspace_view,
)
from keyroute.core.errors import AuthError, InvalidRequest, NotFound
from keyroute.services import Services
from keyroute.workspace_state import ResponsePolicy

Handler = Callable[[Request, Services], Awaitable[Any]]


def _json(status: int, body: Any) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def _str(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise InvalidRequest(f"'{key}' must be a non-empty string.", param=key)
    return value


def _endpoint(handler: Handler, services: Services, status: int = 200) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = new_request_id()
        response = await _answer(request, request_id)
        response.headers["x-request-id"] = request_id
        response.headers["x-keyroute-overhead-ms"] = f"{(time.perf_counter() - started) * 1e3:.3f}"
        return response

    async def _answer(request: Request, request_id: str) -> Response:
        try:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not await services.control.check_admin_token(
                token.strip()
            ):
                raise AuthError("Missing or invalid admin token ('Authorization: Bearer kra-...').")
            actor = Actor("admin-token", request.client.host if request.client else None)
            with acting_as(actor):
                result = await handler(request, services)
            if isinstance(result, Response):  # a handler that renders itself (CSV)
                return result
            return _json(status, result) if result is not None else Response(status_code=204)
        except ClientDisconnected:  # nobody is left to answer
            return Response(status_code=400)
        except Exception as exc:  # the admin request boundary
            err = as_gateway_error(exc, request_id)
            code, body = render_error(err, "openai")
            return Response(body, status_code=code, media_type="application/json")

    return endpoint


def _ws(request: Request) -> str:
    return str(request.path_params["workspace"])


async def list_workspaces(request: Request, s: Services) -> Any:
    return {"data": [workspace_view(w) for w in await s.control.list_workspaces()]}


async def create_workspace(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    ws = await s.control.create_workspace(
        _str(data, "name") or "", _str(data, "plan", required=False)
    )
    return workspace_view(ws)


async def get_workspace(request: Request, s: Services) -> Any:
    return workspace_view(await s.control.workspace(_ws(request)))


async def delete_workspace(request: Request, s: Services) -> Any:
    ws = await s.control.delete_workspace(_ws(request))
    return {**workspace_view(ws), "deleted": True}


async def list_api_keys(request: Request, s: Services) -> Any:
    return {"data": [api_key_view(k) for k in await s.control.list_api_keys(_ws(request))]}


async def create_api_key(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    created = await s.control.create_api_key(_ws(request), _str(data, "name", required=False))
    return {**api_key_view(created.record), "key": created.key}


async def revoke_api_key(request: Request, s: Services) -> Any:
    key_id = str(request.path_params["key_id"])
    await s.control.revoke_api_key(_ws(request), key_id)
    return {"id": key_id, "revoked": True}


async def list_provider_keys(request: Request, s: Services) -> Any:
    keys = await s.control.list_provider_keys(_ws(request))
    return {"data": [provider_key_view(k) for k in keys]}


async def add_provider_key(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    provider = _str(data, "provider") or ""
    key = _str(data, "key", required=False) or ""  # ControlPlane names it if the provider needs one
    record = await s.control.add_provider_key(
        _ws(request),
        provider,
        key,
        name=_str(data, "name", required=False),
        base_url=_str(data, "base_url", required=False),
    )
    return provider_key_view(record)


async def revoke_provider_key(request: Request, s: Services) -> Any:
    key_id = str(request.path_params["key_id"])
    await s.control.revoke_provider_key(_ws(request), key_id)
    return {"id": key_id, "revoked": True}


async def list_aliases(request: Request, s: Services) -> Any:
    return {"data": [alias_view(a) for a in await s.control.list_aliases(_ws(request))]}


async def set_alias(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    alias = str(request.path_params["alias"])
    return alias_view(await s.control.set_alias(_ws(request), alias, _str(data, "target") or ""))


async def delete_alias(request: Request, s: Services) -> Any:
    alias = str(request.path_params["alias"])
    await s.control.delete_alias(_ws(request), alias)
    return {"alias": alias, "deleted": True}


async def rotate_master(request: Request, s: Services) -> Any:
    result = await s.vault.rotate_master()
    return {"rewrapped": result.rewrapped, "old_key_id": result.old_id, "new_key_id": result.new_id}


async def health(request: Request, s: Services) -> Any:
    """This process's circuit breakers and resting keys, per (provider key, model)."""
    return {"data": s.health.snapshot(), "retry_budget": s.retry_budget.snapshot()}


async def check_config(request: Request, s: Services) -> Any:
    return await s.check()


async def list_providers(request: Request, s: Services) -> Any:
    return {"data": provider_views()}


def _today() -> date:
    return datetime.now(UTC).date()


async def list_models(request: Request, s: Services) -> Any:
    provider = request.query_params.get("provider")
    entries = [m for m in s.catalogue.models if provider is None or m.provider == provider]
    return {"data": [model_view(m, _today()) for m in entries]}


async def get_model(request: Request, s: Services) -> Any:
    model = str(request.path_params["model"])
    entry = s.catalogue.find(model)
    if entry is None:
        raise NotFound(f"The catalogue has no model '{model}'.", param="model")
    return model_view(entry, _today())


async def list_prices(request: Request, s: Services) -> Any:
    records = await s.control.list_prices(_ws(request))
    return {"data": [price_override_view(r) for r in records]}


async def set_prices(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    prices = data.pop("prices", None)
    if prices is not None and not isinstance(prices, dict):
        raise InvalidRequest("'prices' must be an object of token class -> USD.", param="prices")
    unknown = sorted(set(data) - {"provider", "model", "discount_percent"})
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    record = await s.control.set_prices(
        _ws(request),
        provider=_str(data, "provider", required=False),
        model=_str(data, "model", required=False),
        discount=data.get("discount_percent"),
        prices=prices,
    )
    return price_override_view(record)


async def import_prices(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    replace = data.pop("replace", False)
    if not isinstance(replace, bool):
        raise InvalidRequest("'replace' must be true or false.", param="replace")
    text = msgspec.json.encode(data).decode()
    records = await s.control.import_prices(_ws(request), text, "json", replace=replace)
    return {"data": [price_override_view(r) for r in records]}


async def clear_prices(request: Request, s: Services) -> Any:
    query = request.query_params
    provider, model = await s.control.clear_prices(
        _ws(request), provider=query.get("provider"), model=query.get("model")
    )
    return {"provider": provider, "model": model or None, "deleted": True}


_USAGE_PARAMS = frozenset({"by", "since", "until", "format"})


async def get_usage(request: Request, s: Services) -> Any:
    query = request.query_params
    unknown = sorted(set(query) - _USAGE_PARAMS)
    if unknown:
        raise InvalidRequest(f"Unknown query parameter '{unknown[0]}'.", param=unknown[0])
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidRequest(f"Invalid format '{fmt}': use json or csv.", param="format")
    result = await s.control.usage(
        _ws(request), by=query.get("by"), since=query.get("since"), until=query.get("until")
    )
    if fmt == "csv":
        return Response(usage_csv(result), media_type="text/csv; charset=utf-8")
    return {**usage_document(result), **use_view(await s.control.governance.use(_ws(request)))}


_AUDIT_PARAMS = frozenset({"since", "until", "key", "model", "status", "user", "format"})


async def get_audit(request: Request, s: Services) -> Any:
    """The workspace's audit log, streamed as JSON lines or CSV (schema: docs/audit.md)."""
    query = request.query_params
    unknown = sorted(set(query) - _AUDIT_PARAMS)
    if unknown:
        raise InvalidRequest(f"Unknown query parameter '{unknown[0]}'.", param=unknown[0])
    fmt = query.get("format", "jsonl")
    filters = ExportFilters(
        since=query.get("since"),
        until=query.get("until"),
        key=query.get("key"),
        model=query.get("model"),
        status=query.get("status"),
        user=query.get("user"),
    )
    lines = await s.control.audit.export(_ws(request), filters, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(lines, media_type=media)


def _responses_view(workspace: str, policy: ResponsePolicy) -> dict[str, Any]:
    return {"workspace": workspace, "store": policy.store, "retention_days": policy.retention_days}


async def get_responses(request: Request, s: Services) -> Any:
    """Whether the workspace stores Responses API turns, and for how long."""
    return _responses_view(_ws(request), await s.control.response_storage(_ws(request)))


async def put_responses(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    unknown = sorted(set(data) - {"store", "retention_days"})
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    current = await s.control.response_storage(_ws(request))
    store = data.get("store", current.store)
    if not isinstance(store, bool):
        raise InvalidRequest("'store' must be true or false.", param="store")
    days = data.get("retention_days", current.retention_days)
    if days is not None and (isinstance(days, bool) or not isinstance(days, int | float)):
        raise InvalidRequest(
            "'retention_days' must be a number of days, or null for the server's default.",
            param="retention_days",
        )
    try:
        policy = await s.control.set_response_storage(
            _ws(request), store=store, retention_days=days
        )
    except InvalidRequest as err:
        raise InvalidRequest(err.message, param="retention_days") from None
    return _responses_view(_ws(request), policy)


def _body_logging_view(policy: BodyLogging) -> dict[str, Any]:
    return {"enabled": policy.enabled, "patterns": list(policy.patterns)}


async def get_body_logging(request: Request, s: Services) -> Any:
    return _body_logging_view(await s.control.audit.body_logging(_ws(request)))


async def put_body_logging(request: Request, s: Services) -> Any:
    """``{"enabled"?: bool, "patterns"?: [regex, ...]}``; fields left out keep their value."""
    data = await _payload(request, s)
    unknown = sorted(set(data) - {"enabled", "patterns"})
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidRequest("'enabled' must be true or false.", param="enabled")
    patterns = data.get("patterns")
    if patterns is not None and not isinstance(patterns, list):
        raise InvalidRequest("'patterns' must be a list of regular expressions.", param="patterns")
    policy = await s.control.audit.set_body_logging(
        _ws(request), enabled=enabled, patterns=patterns
    )
    return _body_logging_view(policy)


async def get_caching(request: Request, s: Services) -> Any:
    return caching_view(*await s.control.caching.show(_ws(request)))


async def put_caching(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    return caching_view(*await s.control.caching.update(_ws(request), data))


# Resilience: fallback chains, timeouts, provider-key weights (``control/resilience.py``)
def _fields(data: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])


async def list_fallbacks(request: Request, s: Services) -> Any:
    settings = await s.control.resilience.fallbacks(_ws(request))
    return {"data": [f.view() for f in settings]}


async def get_fallback(request: Request, s: Services) -> Any:
    model = request.path_params["model"]
    (setting,) = await s.control.resilience.fallbacks(_ws(request), model)
    return setting.view()


async def set_fallback(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    _fields(data, frozenset({"chain", "on_refusal"}))
    on_refusal = data.get("on_refusal", False)
    if not isinstance(on_refusal, bool):
        raise InvalidRequest("'on_refusal' must be true or false.", param="on_refusal")
    if "chain" not in data:
        raise InvalidRequest("Missing required field 'chain'.", param="chain")
    setting = await s.control.resilience.set_fallback(
        _ws(request), request.path_params["model"], data["chain"], on_refusal=on_refusal
    )
    return setting.view()


async def clear_fallback(request: Request, s: Services) -> Any:
    subject = await s.control.resilience.clear_fallback(_ws(request), request.path_params["model"])
    return {"model": subject, "deleted": True}


_TIMEOUT_FIELDS = {
    "connect_seconds": "connect",
    "first_byte_seconds": "first_byte",
    "idle_seconds": "idle",
    "total_seconds": "total",
}


async def list_timeouts(request: Request, s: Services) -> Any:
    return {"data": [t.view() for t in await s.control.resilience.timeouts(_ws(request))]}


async def set_timeouts(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    _fields(data, frozenset(_TIMEOUT_FIELDS))
    values = {_TIMEOUT_FIELDS[k]: v for k, v in data.items()}
    setting = await s.control.resilience.set_timeouts(
        _ws(request), request.path_params["model"], values
    )
    return setting.view()


async def clear_timeouts(request: Request, s: Services) -> Any:
    subject = await s.control.resilience.clear_timeouts(_ws(request), request.path_params["model"])
    return {"model": subject, "deleted": True}


async def set_key_weight(request: Request, s: Services) -> Any:
    data = await _payload(request, s)
    _fields(data, frozenset({"weight"}))
    if "weight" not in data:
        raise InvalidRequest("Missing required field 'weight'.", param="weight")
    return await s.control.resilience.set_key_weight(
        _ws(request), request.path_params["key_id"], data["weight"]
    )


def admin_routes(services: Services) -> list[Route]:
    def r(path: str, handler: Handler, methods: list[str], status: int = 200) -> Route:
        return Route("/admin/v1" + path, _endpoint(handler, services, status), methods=methods)

    ws = "/workspaces/{workspace}"
    routing = routing_handlers(_payload)
    return [
        r("/workspaces", list_workspaces, ["GET"]),
        r("/workspaces", create_workspace, ["POST"], 201),
        r(ws, get_workspace, ["GET"]),
        r(ws, delete_workspace, ["DELETE"]),
        r(ws + "/api-keys", list_api_keys, ["GET"]),
        r(ws + "/api-keys", create_api_key, ["POST"], 201),
        r(ws + "/api-keys/{key_id}", revoke_api_key, ["DELETE"]),
        r(ws + "/provider-keys", list_provider_keys, ["GET"]),
        r(ws + "/provider-keys", add_provider_key, ["POST"], 201),
        r(ws + "/provider-keys/{key_id}", revoke_provider_key, ["DELETE"]),
        r(ws + "/aliases", list_aliases, ["GET"]),
        r(ws + "/aliases/{alias}", set_alias, ["PUT"]),
        r(ws + "/aliases/{alias}", delete_alias, ["DELETE"]),
        r(ws + "/prices", list_prices, ["GET"]),
        r(ws + "/prices", set_prices, ["PUT"]),
        r(ws + "/prices", import_prices, ["POST"]),
        r(ws + "/prices", clear_prices, ["DELETE"]),
        r(ws + "/usage", get_usage, ["GET"]),
        r(ws + "/routing", routing["list"], ["GET"]),
        r(ws + "/routing", routing["create"], ["POST"]),
        r(ws + "/routing/report", routing["report"], ["GET"]),
        r(ws + "/routing/{policy}", routing["get"], ["GET"]),
        r(ws + "/routing/{policy}", routing["put"], ["PUT"]),
        r(ws + "/routing/{policy}", routing["delete"], ["DELETE"]),
        *(r(ws + path, handler, [method]) for path, handler, method in GOVERNANCE_ROUTES),
        r(ws + "/audit", get_audit, ["GET"]),
        r(ws + "/responses", get_responses, ["GET"]),
        r(ws + "/responses", put_responses, ["PUT"]),
        r(ws + "/audit/body-logging", get_body_logging, ["GET"]),
        r(ws + "/audit/body-logging", put_body_logging, ["PUT"]),
        r(ws + "/caching", get_caching, ["GET"]),
        r(ws + "/caching", put_caching, ["PUT"]),
        r(ws + "/fallback", list_fallbacks, ["GET"]),
        r(ws + "/fallback/{model:path}", get_fallback, ["GET"]),
        r(ws + "/fallback/{model:path}", set_fallback, ["PUT"]),
        r(ws + "/fallback/{model:path}", clear_fallback, ["DELETE"]),
        r(ws + "/timeouts", list_timeouts, ["GET"]),
        r(ws + "/timeouts/{model:path}", set_timeouts, ["PUT"]),
        r(ws + "/timeouts/{model:path}", clear_timeouts, ["DELETE"]),
        r(ws + "/provider-keys/{key_id}/weight", set_key_weight, ["PUT"]),
        *(r(ws + path, h, methods, st) for path, h, methods, st in alert_handlers(_payload)),
        r("/models", list_models, ["GET"]),
        r("/models/{model:path}", get_model, ["GET"]),
        r("/vault/rotate-master", rotate_master, ["POST"]),
        r("/providers", list_providers, ["GET"]),
        r("/check-config", check_config, ["GET"]),
        r("/health", health, ["GET"]),
    ]
