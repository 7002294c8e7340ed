"""``SettingsCachingStore``: per-workspace caching settings kept as one workspace setting row.

Both backends keep them in their ``settings`` table (``workspace:<id>:caching``, a JSON object),
written through the store's ``set_workspace_setting``: a configuration change of that workspace
(its change-feed revision moves, so every process reloads the workspace's state), removed with
the workspace. No migration is needed for a new field: a field missing from a stored row takes
its default, and a row that does not parse is an error naming the workspace, never a silent
reset.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from keyroute.storage.base import CachingSettingsRecord, workspace_setting_key

CACHING_SETTING = "caching"  # the workspace setting that holds its ``CachingSettingsRecord``

_FIELDS = frozenset(f.name for f in dataclasses.fields(CachingSettingsRecord))


def dump_caching(record: CachingSettingsRecord) -> str:
    """The stored JSON text of ``record`` (keys sorted, so equal settings are equal text)."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True)


def parse_caching(text: str | None, workspace_id: str) -> CachingSettingsRecord:
    """A stored row back as a record; unknown keys from a newer version are ignored."""
    if text is None:
        return CachingSettingsRecord()
    try:
        raw: Any = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        return CachingSettingsRecord(**{k: v for k, v in raw.items() if k in _FIELDS})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"workspace {workspace_id}: unreadable caching settings: {exc}") from None


class SettingsCachingStore:
    """A ``CachingSettingsStore`` over a store's settings rows."""

    def __init__(
        self,
        get_setting: Callable[[str], Awaitable[str | None]],
        set_workspace_setting: Callable[[str, str, str], Awaitable[None]],
    ) -> None:
        self._get = get_setting
        self._set = set_workspace_setting

    async def get_caching(self, workspace_id: str) -> CachingSettingsRecord:
        text = await self._get(workspace_setting_key(workspace_id, CACHING_SETTING))
        return parse_caching(text, workspace_id)

    async def put_caching(self, workspace_id: str, record: CachingSettingsRecord) -> None:
        await self._set(workspace_id, CACHING_SETTING, dump_caching(record))
