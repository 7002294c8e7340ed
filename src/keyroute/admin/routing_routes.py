"""Admin API for routing: ``/admin/v1/workspaces/{id}/routing...``, the same operations as
``keyroute routing`` (both call ``ControlPlane.routing``).

- ``GET .../routing``: every policy; ``POST .../routing``: set one (``policy`` in the body)
- ``GET .../routing/report``: per policy and chosen model: requests, savings, feedback
- ``GET|PUT|DELETE .../routing/{policy}``: one policy
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from keyroute.control.routing import report_document
from keyroute.core.errors import InvalidRequest
from keyroute.services import Services

Payload = Callable[[Request, Services], Awaitable[dict[str, Any]]]
_FIELDS = frozenset({"policy", "candidates", "reference", "quality", "max_strong_share", "default"})


def _ws(request: Request) -> str:
    return str(request.path_params["workspace"])


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"'{key}' must be a number.", param=key)
    return float(value)


def _candidates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [m for m in (c.strip() for c in value.split(",")) if m]
    if isinstance(value, list) and all(isinstance(m, str) for m in value):
        return list(value)
    raise InvalidRequest(
        "'candidates' must be a list of model ids (or one comma-separated string).",
        param="candidates",
    )


async def _set(request: Request, s: Services, data: dict[str, Any], name: Any) -> Any:
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'policy' must be a non-empty string.", param="policy")
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference:
        raise InvalidRequest("'reference' must be a model id.", param="reference")
    default = data.get("default", False)
    if not isinstance(default, bool):
        raise InvalidRequest("'default' must be true or false.", param="default")
    return await s.control.routing.set_policy(
        _ws(request),
        policy=name,
        candidates=_candidates(data.get("candidates")),
        reference=reference,
        quality=_number(data, "quality"),
        max_strong_share=_number(data, "max_strong_share"),
        default=default,
    )


def routing_handlers(payload: Payload) -> dict[str, Callable[[Request, Services], Awaitable[Any]]]:
    """The handlers, given the admin API's bounded JSON body reader."""

    async def list_policies(request: Request, s: Services) -> Any:
        return {"data": await s.control.routing.list_policies(_ws(request))}

    async def create_policy(request: Request, s: Services) -> Any:
        data = await payload(request, s)
        return await _set(request, s, data, data.get("policy"))

    async def put_policy(request: Request, s: Services) -> Any:
        data = await payload(request, s)
        name = request.path_params["policy"]
        if data.get("policy", name) != name:
            raise InvalidRequest("'policy' in the body differs from the path.", param="policy")
        return await _set(request, s, data, name)

    async def get_policy(request: Request, s: Services) -> Any:
        return await s.control.routing.show_policy(_ws(request), request.path_params["policy"])

    async def delete_policy(request: Request, s: Services) -> Any:
        name = request.path_params["policy"]
        await s.control.routing.delete_policy(_ws(request), name)
        return {"policy": name, "deleted": True}

    async def report(request: Request, s: Services) -> Any:
        query = request.query_params
        unknown = sorted(set(query) - {"since", "until"})
        if unknown:
            raise InvalidRequest(f"Unknown query parameter '{unknown[0]}'.", param=unknown[0])
        result = await s.control.routing.report(
            _ws(request), since=query.get("since"), until=query.get("until")
        )
        return report_document(result)

    return {
        "list": list_policies,
        "create": create_policy,
        "put": put_policy,
        "get": get_policy,
        "delete": delete_policy,
        "report": report,
    }
