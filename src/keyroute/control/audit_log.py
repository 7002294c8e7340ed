"""``AuditLog``: the audit operations of the control plane (verify, head, export) and who is
acting (``acting_as``), shared by the CLI and the admin API.

Invariants:
- Every operation names one workspace (by name or id) and reads only that workspace's chain;
  the gateway-level chain is reached only through ``gateway=True`` (CLI, operator only).
- An export is itself audited: an ``audit.export`` admin event (who, from where, which filters,
  which format) is logged in the exported workspace's chain when the export starts.
- The actor is a context variable: the admin API sets it per request (``admin-token`` and the
  client's IP), every other caller is the local CLI user.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from keyroute.accounting.usage_report import parse_time
from keyroute.audit.bodies import SETTING as BODY_SETTING
from keyroute.audit.bodies import BodyLogging, checked_patterns, open_body
from keyroute.audit.entries import AdminEvent
from keyroute.audit.export import FORMATS, ExportFormat, export_lines
from keyroute.audit.retention import MAX_DAYS, parse_days, retention_setting
from keyroute.audit.verifier import Verdict, verify
from keyroute.core.audit import GATEWAY_LOG, AuditQuery, AuditRow
from keyroute.core.errors import InvalidRequest
from keyroute.storage.base import Store, WorkspaceRecord, workspace_setting_key
from keyroute.vault.keystore import KeyVault


@dataclass(frozen=True, slots=True)
class Actor:
    who: str  # ``admin-token``, ``cli:<user>``
    client_ip: str | None = None


def _cli_user() -> Actor:
    try:
        return Actor(f"cli:{getpass.getuser()}")
    except (KeyError, OSError):
        return Actor("cli")


_ACTOR: ContextVar[Actor | None] = ContextVar("keyroute_actor", default=None)


def current_actor() -> Actor:
    return _ACTOR.get() or _cli_user()


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


class EventSink(Protocol):
    """Where admin events go (the audit writer); synchronous, never blocks."""

    def log_event(self, event: AdminEvent) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportFilters:
    since: str | None = None
    until: str | None = None
    key: str | None = None
    model: str | None = None
    status: str | int | None = None
    user: str | None = None


def _status(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        status = int(value)
    except ValueError:
        status = -1
    if not 0 <= status <= 599:
        raise InvalidRequest(f"Invalid status {ascii(str(value)[:20])}: use 0-599.", param="status")
    return status


class AuditLog:
    def __init__(
        self,
        settings: Store,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]],
        events: EventSink | None,
        clock: Callable[[], datetime],
        vault: KeyVault | None = None,
    ) -> None:
        """``vault`` opens logged bodies for the export (without it they are left out)."""
        self._vault = vault
        self._settings = settings
        self._store = settings.audit
        self._workspace = workspace
        self._events = events
        self._clock = clock

    def emit(
        self,
        action: str,
        workspace_id: str | None,
        *,
        target: str | None = None,
        old: dict[str, object] | None = None,
        new: dict[str, object] | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        """Log an admin event as the current actor (no sink: nothing to do)."""
        if self._events is None:
            return
        actor = current_actor()
        self._events.log_event(
            AdminEvent(
                action=action,
                time=self._clock().astimezone(UTC),
                workspace_id=workspace_id,
                actor=actor.who,
                client_ip=actor.client_ip,
                target=target,
                old=old,
                new=new,
                details=details or {},
            )
        )

    async def retention(self, name_or_id: str) -> Decimal | None:
        workspace = await self._workspace(name_or_id)
        return parse_days(await self._settings.get_setting(retention_setting(workspace.id)))

    async def set_retention(self, name_or_id: str, days: str | None) -> Decimal | None:
        """Keep the workspace's records ``days`` days (``None``: keep everything)."""
        workspace = await self._workspace(name_or_id)
        value = None if days is None else parse_days(days.strip())
        if days is not None and value is None:
            raise InvalidRequest(
                f"Invalid retention {ascii(days[:20])}: use a number of days from 1 to {MAX_DAYS}.",
                param="days",
            )
        key = retention_setting(workspace.id)
        old = parse_days(await self._settings.get_setting(key))
        await self._settings.set_setting(key, "" if value is None else str(value))
        self.emit(
            "audit.retention",
            workspace.id,
            target=workspace.id,
            old={"days": None if old is None else str(old)},
            new={"days": None if value is None else str(value)},
        )
        return value

    async def body_logging(self, name_or_id: str) -> BodyLogging:
        workspace = await self._workspace(name_or_id)
        key = workspace_setting_key(workspace.id, BODY_SETTING)
        return BodyLogging.parse(await self._settings.get_setting(key))

    async def set_body_logging(
        self, name_or_id: str, *, enabled: bool | None = None, patterns: list[str] | None = None
    ) -> BodyLogging:
        """Turn the workspace's body logging on or off, or replace its redaction patterns
        (``None``: left as it is); effective on the next request."""
        workspace = await self._workspace(name_or_id)
        key = workspace_setting_key(workspace.id, BODY_SETTING)
        old = BodyLogging.parse(await self._settings.get_setting(key))
        new = BodyLogging(
            enabled=old.enabled if enabled is None else enabled,
            patterns=old.patterns if patterns is None else checked_patterns(patterns),
        )
        await self._settings.set_workspace_setting(workspace.id, BODY_SETTING, new.dump())
        self.emit(
            "audit.body_logging",
            workspace.id,
            target=workspace.id,
            old={"enabled": old.enabled, "patterns": list(old.patterns)},
            new={"enabled": new.enabled, "patterns": list(new.patterns)},
        )
        return new

    async def _log(self, name_or_id: str | None, gateway: bool) -> str:
        if gateway:
            return GATEWAY_LOG
        if name_or_id is None:
            raise InvalidRequest("Name a workspace.", param="workspace")
        return (await self._workspace(name_or_id)).id

    async def verify(
        self, name_or_id: str | None, *, gateway: bool = False, expect: str | None = None
    ) -> Verdict:
        """``expect``: a published head, ``SEQ:HASH``."""
        head: tuple[int, str] | None = None
        if expect is not None:
            seq, _, digest = expect.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise InvalidRequest("A published head is SEQ:HASH.", param="expect")
            head = (int(seq), digest.lower())
        return await verify(self._store, await self._log(name_or_id, gateway), expect=head)

    async def head(
        self, name_or_id: str | None, *, gateway: bool = False
    ) -> tuple[str, AuditRow | None]:
        log = await self._log(name_or_id, gateway)
        return log, await self._store.head(log)

    async def export(
        self,
        name_or_id: str | None,
        filters: ExportFilters,
        fmt: str,
        *,
        gateway: bool = False,
    ) -> AsyncIterator[str]:
        """Check everything, log the export, and return its lines (streamed by the caller)."""
        if fmt not in FORMATS:
            raise InvalidRequest(
                f"Invalid format {ascii(fmt[:20])}: use jsonl or csv.", param="format"
            )
        log = await self._log(name_or_id, gateway)
        opener = None
        if log != GATEWAY_LOG and self._vault is not None and name_or_id is not None:
            opener = _opener(self._vault, await self._workspace(name_or_id))
        now = self._clock()
        query = AuditQuery(
            log=log,
            since=None
            if filters.since is None
            else parse_time(filters.since, param="since", now=now),
            until=None
            if filters.until is None
            else parse_time(filters.until, param="until", now=now),
            api_key_id=filters.key,
            model=filters.model,
            status=_status(filters.status),
            end_user=filters.user,
        )
        chosen = {k: v for k, v in vars_of(filters).items() if v is not None}
        self.emit(
            "audit.export",
            None if log == GATEWAY_LOG else log,
            details={"format": fmt, "filters": chosen},
        )
        fmt_checked: ExportFormat = "csv" if fmt == "csv" else "jsonl"
        return export_lines(self._store, query, fmt_checked, opener)


def _opener(vault: KeyVault, workspace: WorkspaceRecord) -> Callable[[AuditRow], object]:
    """Opens a row's logged body for ``workspace``'s export."""

    def opened(row: AuditRow) -> object:
        sealed, request_id = row.entry.body, row.entry.request_id
        if sealed is None or request_id is None:
            return None
        return open_body(vault, workspace, request_id, sealed)

    return opened


def vars_of(filters: ExportFilters) -> dict[str, object]:
    return {
        "since": filters.since,
        "until": filters.until,
        "key": filters.key,
        "model": filters.model,
        "status": filters.status,
        "user": filters.user,
    }
