"""``CachingSettings``: the caching operations of the control plane (``keyroute caching``,
``/admin/v1/workspaces/{id}/caching``).

A change validates every field first (errors name the field), stores the whole record (a
configuration change of the workspace: every process reloads its state on the next request) and
logs one ``caching.update`` admin event with the old and new values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from keyroute.core.errors import InvalidRequest
from keyroute.storage.base import CachingSettingsRecord, Store, WorkspaceRecord

MAX_RESPONSE_TTL_SECONDS = 7 * 24 * 3600

_CHOICES: dict[str, tuple[str, ...]] = {
    "prompt_cache": ("auto", "off"),
    "prompt_cache_ttl": ("5m", "1h"),
}
_SWITCHES = ("response_cache", "response_cache_nondeterministic", "gemini_explicit")
FIELDS = frozenset(f.name for f in dataclasses.fields(CachingSettingsRecord))


class Emit(Protocol):
    def __call__(
        self,
        action: str,
        workspace_id: str | None,
        *,
        target: str | None = None,
        old: dict[str, object] | None = None,
        new: dict[str, object] | None = None,
    ) -> None: ...


def caching_view(workspace: WorkspaceRecord, record: CachingSettingsRecord) -> dict[str, Any]:
    """The settings as the CLI and the admin API show them."""
    return {"workspace": workspace.name, "workspace_id": workspace.id, **_values(record)}


def _values(record: CachingSettingsRecord) -> dict[str, object]:
    return dict(dataclasses.asdict(record))


def _checked(changes: Mapping[str, object]) -> dict[str, object]:
    """``changes`` validated: known fields with values of the right kind, or a 400."""
    checked: dict[str, object] = {}
    for name, value in changes.items():
        if name not in FIELDS:
            raise InvalidRequest(f"Unknown caching setting '{name}'.", param=name)
        if name in _CHOICES:
            if value not in _CHOICES[name]:
                allowed = " or ".join(_CHOICES[name])
                raise InvalidRequest(f"'{name}' must be {allowed}; got {value!r}.", param=name)
        elif name in _SWITCHES:
            if not isinstance(value, bool):
                raise InvalidRequest(f"'{name}' must be true or false.", param=name)
        elif (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= MAX_RESPONSE_TTL_SECONDS
        ):
            raise InvalidRequest(
                f"'{name}' must be a whole number of seconds from 1 to "
                f"{MAX_RESPONSE_TTL_SECONDS}; got {value!r}.",
                param=name,
            )
        checked[name] = value
    return checked


class CachingSettings:
    def __init__(
        self,
        store: Store,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]],
        emit: Emit,
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._emit = emit

    async def show(self, name_or_id: str) -> tuple[WorkspaceRecord, CachingSettingsRecord]:
        workspace = await self._workspace(name_or_id)
        return workspace, await self._store.caching.get_caching(workspace.id)

    async def update(
        self, name_or_id: str, changes: Mapping[str, object]
    ) -> tuple[WorkspaceRecord, CachingSettingsRecord]:
        """Change the fields in ``changes``; the others keep their value."""
        checked = _checked(changes)
        workspace, old = await self.show(name_or_id)
        new = dataclasses.replace(old, **checked)  # type: ignore[arg-type]
        if new != old:
            await self._store.caching.put_caching(workspace.id, new)
            self._emit(
                "caching.update",
                workspace.id,
                target=workspace.id,
                old=_values(old),
                new=_values(new),
            )
        return workspace, new
