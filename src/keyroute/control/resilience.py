"""Resilience settings of a workspace, for the CLI and the admin API: fallback chains
(``keyroute fallback``), timeouts (``keyroute timeouts``) and provider-key weights
(``keyroute provider-key weight``).

Everything is checked here before it is stored: model ids are well-formed (``next-best`` is
allowed in a chain), a chain names at most ``MAX_CHAIN`` models and each once, timeouts are
positive and finite, weights are whole numbers from 0 to 1000 and name an active key of the
workspace. Every change is an admin event in the workspace's audit log, with its old and new
value.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyroute.control.audit_log import AuditLog
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.resilience.policy import (
    EVERY_MODEL,
    MAX_WEIGHT,
    NEXT_BEST,
    FallbackChain,
    TimeoutPolicy,
    parse_weight,
)
from keyroute.routing.model_id import check_model_id
from keyroute.storage.base import ResiliencePolicyRecord, Store, WorkspaceRecord


@dataclass(frozen=True, slots=True)
class FallbackSetting:
    subject: str  # a model id or alias, or ``*``
    chain: FallbackChain
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        return {
            "model": self.subject,
            "chain": list(self.chain.models),
            "on_refusal": self.chain.on_refusal,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class TimeoutSetting:
    subject: str  # a model id, or ``*`` for the workspace
    timeouts: TimeoutPolicy
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        t = self.timeouts
        return {
            "model": self.subject,
            "connect_seconds": t.connect,
            "first_byte_seconds": t.first_byte,
            "idle_seconds": t.idle,
            "total_seconds": t.total,
            "updated_at": self.updated_at.isoformat(),
        }


def _subject(model: str | None, param: str = "model") -> str:
    if model is None or model == EVERY_MODEL:
        return EVERY_MODEL
    return check_model_id(model, param=param)


def _checked(call: Callable[[], Any], param: str) -> Any:
    try:
        return call()
    except ValueError as exc:
        raise InvalidRequest(f"Invalid {param}: {exc}.", param=param) from None


class ResilienceControl:
    def __init__(
        self,
        store: Store,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]],
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._audit = audit
        self._clock = clock

    async def _records(self, workspace_id: str, kind: str) -> list[ResiliencePolicyRecord]:
        records = await self._store.resilience.list_resilience_policies(workspace_id)
        return [r for r in records if r.kind == kind]

    async def _put(
        self, workspace: WorkspaceRecord, kind: str, subject: str, value: str
    ) -> ResiliencePolicyRecord:
        old = {r.subject: r for r in await self._records(workspace.id, kind)}.get(subject)
        record = ResiliencePolicyRecord(
            workspace_id=workspace.id,
            kind=kind,
            subject=subject,
            value=value,
            updated_at=self._clock(),
        )
        await self._store.resilience.set_resilience_policy(record)
        self._audit.emit(
            f"{kind}.set",
            workspace.id,
            target=subject,
            old=None if old is None else {"value": old.value},
            new={"value": value},
        )
        return record

    async def _clear(self, workspace: WorkspaceRecord, kind: str, subject: str, what: str) -> None:
        old = {r.subject: r for r in await self._records(workspace.id, kind)}.get(subject)
        if old is None or not await self._store.resilience.delete_resilience_policy(
            workspace.id, kind, subject
        ):
            raise NotFound(f"No {what} for '{subject}' in workspace '{workspace.name}'.")
        self._audit.emit(f"{kind}.clear", workspace.id, target=subject, old={"value": old.value})

    # Fallback chains
    async def set_fallback(
        self,
        name_or_id: str,
        model: str | None,
        chain: Sequence[str],
        *,
        on_refusal: bool = False,
    ) -> FallbackSetting:
        """Set the fallback chain of ``model`` (an id or alias; ``None`` or ``*``: every model
        without its own chain)."""
        workspace = await self._workspace(name_or_id)
        subject = _subject(model)
        if not isinstance(chain, list | tuple) or not all(isinstance(m, str) for m in chain):
            raise InvalidRequest("'chain' must be a list of model ids.", param="chain")
        for index, item in enumerate(chain):
            if item != NEXT_BEST:
                check_model_id(item, param=f"chain[{index}]")
            if item == subject:
                raise InvalidRequest(
                    f"'chain[{index}]' is the model itself; a chain lists the models to try "
                    "after it.",
                    param=f"chain[{index}]",
                )
        policy = _checked(lambda: FallbackChain.of(chain, on_refusal=on_refusal), "chain")
        record = await self._put(workspace, "fallback", subject, policy.dump())
        return FallbackSetting(subject, policy, record.updated_at)

    async def fallbacks(self, name_or_id: str, model: str | None = None) -> list[FallbackSetting]:
        """The workspace's chains (only ``model``'s when given; ``NotFound`` if it has none)."""
        workspace = await self._workspace(name_or_id)
        found = [
            FallbackSetting(r.subject, FallbackChain.parse(r.value), r.updated_at)
            for r in await self._records(workspace.id, "fallback")
        ]
        if model is None:
            return found
        subject = _subject(model)
        only = [s for s in found if s.subject == subject]
        if not only:
            raise NotFound(
                f"No fallback chain for '{subject}' in workspace '{workspace.name}'.",
                param="model",
            )
        return only

    async def clear_fallback(self, name_or_id: str, model: str | None) -> str:
        workspace = await self._workspace(name_or_id)
        subject = _subject(model)
        await self._clear(workspace, "fallback", subject, "fallback chain")
        return subject

    # Timeouts
    async def set_timeouts(
        self, name_or_id: str, model: str | None, values: Mapping[str, Any]
    ) -> TimeoutSetting:
        """Set any of connect, first_byte, idle, total (seconds) for ``model`` or (``None``,
        ``*``) the workspace; a set replaces the previous one of the same subject."""
        workspace = await self._workspace(name_or_id)
        subject = _subject(model)
        policy = _checked(lambda: TimeoutPolicy.of(values), "timeouts")
        record = await self._put(workspace, "timeouts", subject, policy.dump())
        return TimeoutSetting(subject, policy, record.updated_at)

    async def timeouts(self, name_or_id: str) -> list[TimeoutSetting]:
        workspace = await self._workspace(name_or_id)
        return [
            TimeoutSetting(r.subject, TimeoutPolicy.parse(r.value), r.updated_at)
            for r in await self._records(workspace.id, "timeouts")
        ]

    async def clear_timeouts(self, name_or_id: str, model: str | None) -> str:
        workspace = await self._workspace(name_or_id)
        subject = _subject(model)
        await self._clear(workspace, "timeouts", subject, "timeouts")
        return subject

    # Provider-key weights
    async def set_key_weight(self, name_or_id: str, key: str, weight: object) -> dict[str, Any]:
        """``key`` (a provider key's id or name) takes ``weight`` of its provider's traffic."""
        workspace = await self._workspace(name_or_id)
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise InvalidRequest(
                f"The weight must be a whole number from 0 to {MAX_WEIGHT}.", param="weight"
            )
        _checked(lambda: parse_weight(json.dumps(weight)), "weight")
        active = [
            k
            for k in await self._store.list_provider_keys(workspace.id)
            if k.revoked_at is None and key in (k.id, k.name)
        ]
        if not active:
            raise NotFound(
                f"No active provider key '{key}' in workspace '{workspace.name}'.", param="key"
            )
        record = active[0]
        await self._put(workspace, "key_weight", record.id, json.dumps(weight))
        return {"id": record.id, "name": record.name, "provider": record.provider, "weight": weight}

    async def key_weights(self, name_or_id: str) -> dict[str, int]:
        """Provider key id -> weight, for the keys whose weight was set."""
        workspace = await self._workspace(name_or_id)
        return {
            r.subject: parse_weight(r.value)
            for r in await self._records(workspace.id, "key_weight")
        }
