"""``SqliteStore``: the single-instance ``Store`` on one SQLite file (SQLAlchemy Core, aiosqlite).

Invariants:

- The schema comes only from the Alembic history (``migrate``); ``open`` refuses a database whose
  schema is missing or not at head, so the server never runs on a half-migrated file.
- Every connection runs in WAL mode with ``busy_timeout=5000``, ``foreign_keys=ON`` and
  ``synchronous=NORMAL``. Transactions are explicit: reads ``BEGIN``, writes ``BEGIN IMMEDIATE``
  (taking the write lock up front, so a read-then-write never fails on a lock upgrade).
- Every configuration write bumps the ``config_revision`` sequence and records it for each
  workspace it changed (``workspace_changes``), in its own transaction, then notes it in
  ``changes`` (a ``SqliteChangeFeed``) once committed; other processes' writes reach ``changes``
  through its poll. Usage bookkeeping (``record_api_key_use``) bumps nothing, so the request
  path's caches survive the background last-used flushes.
- Listing order matches ``MemoryStore``.
- The database file and its ``-wal``, ``-shm`` and ``-journal`` files are 0600
  (``file_modes.secure_files``, called by ``migrate`` and ``open``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Row,
    bindparam,
    delete,
    event,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

from keyroute.core.errors import ConfigError, Conflict, NotFound
from keyroute.storage.base import (
    AliasRecord,
    ApiKeyRecord,
    PriceOverrideRecord,
    ProviderKeyRecord,
    WorkspaceRecord,
    workspace_setting_key,
)
from keyroute.storage.caching_settings import SettingsCachingStore
from keyroute.storage.file_modes import secure_files
from keyroute.storage.migrations import alembic_config, head_revision
from keyroute.storage.schema import (
    UtcDateTime,
    aliases,
    api_keys,
    price_overrides,
    provider_keys,
    settings,
    workspace_changes,
    workspaces,
)
from keyroute.storage.sqlite_alerts import SqliteAlertStore
from keyroute.storage.sqlite_audit import SqliteAuditStore
from keyroute.storage.sqlite_changes import SqliteChangeFeed
from keyroute.storage.sqlite_governance import SqliteGovernanceStore
from keyroute.storage.sqlite_resilience import SqliteResilienceStore
from keyroute.storage.sqlite_responses import SqliteResponseStateStore
from keyroute.storage.sqlite_routing import SqliteRoutingStore
from keyroute.storage.sqlite_signatures import SqliteSignatureStore
from keyroute.storage.sqlite_usage import SqliteUsageStore

_DRIVERS = frozenset({"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"})
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
_WRITE_OPTION = "keyroute_write"
_HOW_TO_MIGRATE = "run `keyroute init` or `keyroute migrate`"


def sqlite_path(url_or_path: str) -> Path:
    """The absolute file path named by ``sqlite:///...``, ``sqlite+aiosqlite:///...`` or a path."""
    if "://" not in url_or_path:
        return Path(url_or_path).expanduser().resolve()
    try:
        url = make_url(url_or_path)
    except ArgumentError as exc:
        raise ConfigError(f"invalid SQLite database URL {url_or_path!r}") from exc
    if url.drivername not in _DRIVERS:
        raise ConfigError(f"not a SQLite database URL: {url_or_path!r}")
    if not url.database or url.database == ":memory:":
        raise ConfigError(
            "SQLite storage needs a file (sqlite:////abs/path/keyroute.db); "
            "use memory:// for a store that lives in memory"
        )
    return Path(url.database).expanduser().resolve()


def _on_connect(dbapi_connection: Any, _record: object) -> None:
    # Turn off the driver's implicit BEGIN: ``_on_begin`` emits the right one itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_BUMP_CONFIG_REVISION = (
    "INSERT INTO settings (key, value) VALUES ('config_revision', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
    "RETURNING CAST(value AS INTEGER)"
)


def _current_revision(conn: Connection) -> str | None:
    """The schema revision Alembic recorded (``None``: never migrated); read without Alembic."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _fields(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


def _price_row(record: PriceOverrideRecord) -> dict[str, Any]:
    """Decimals as exact strings: SQLite has no decimal type and floats would round."""
    prices = None if record.prices is None else {k: str(v) for k, v in record.prices.items()}
    discount = record.discount_percent
    return {
        "workspace_id": record.workspace_id,
        "provider": record.provider,
        "model": record.model,
        "discount_percent": None if discount is None else str(discount),
        "prices": None if prices is None else json.dumps(prices, sort_keys=True),
        "updated_at": record.updated_at,
    }


def _price_record(row: Row[Any]) -> PriceOverrideRecord:
    fields = _fields(row)
    raw = fields.pop("prices")
    discount = fields.pop("discount_percent")
    return PriceOverrideRecord(
        **fields,
        discount_percent=None if discount is None else Decimal(discount),
        prices=None if raw is None else {k: Decimal(v) for k, v in json.loads(raw).items()},
    )


class SqliteStore:
    """A ``Store`` on one SQLite file; several processes may share the file."""

    def __init__(self, url_or_path: str) -> None:
        self._path = sqlite_path(url_or_path)
        self._engine: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        self._usage = SqliteUsageStore(self._engines)
        self._signatures = SqliteSignatureStore(self._engines)
        self._responses = SqliteResponseStateStore(self._engines)
        self._audit = SqliteAuditStore(self._engines)
        self._governance = SqliteGovernanceStore(self._engines, self._write)
        self._caching = SettingsCachingStore(self.get_setting, self.set_workspace_setting)
        self._routing = SqliteRoutingStore(self._engines, lambda ws: self._write(ws))
        self._resilience = SqliteResilienceStore(self._engines, lambda ws: self._write(ws))
        self._alerts = SqliteAlertStore(self._engines)
        self.changes = SqliteChangeFeed(self._path)

    @property
    def usage(self) -> SqliteUsageStore:
        return self._usage

    @property
    def signatures(self) -> SqliteSignatureStore:
        return self._signatures

    @property
    def responses(self) -> SqliteResponseStateStore:
        return self._responses

    @property
    def caching(self) -> SettingsCachingStore:
        return self._caching

    @property
    def audit(self) -> SqliteAuditStore:
        return self._audit

    @property
    def governance(self) -> SqliteGovernanceStore:
        return self._governance

    @property
    def routing(self) -> SqliteRoutingStore:
        return self._routing

    @property
    def resilience(self) -> SqliteResilienceStore:
        return self._resilience

    @property
    def alerts(self) -> SqliteAlertStore:
        return self._alerts

    @property
    def path(self) -> Path:
        return self._path

    # Lifecycle

    async def open(self) -> None:
        if self._engine is not None:
            return
        if not self._path.is_file():
            raise ConfigError(f"no keyroute database at {self._path}: {_HOW_TO_MIGRATE}")
        secure_files(self._path, create=False)
        engine = create_async_engine(URL.create("sqlite+aiosqlite", database=str(self._path)))
        event.listen(engine.sync_engine, "connect", _on_connect)
        event.listen(engine.sync_engine, "begin", _on_begin)
        async with AsyncExitStack() as cleanup:
            cleanup.push_async_callback(engine.dispose)
            await self._check_schema(engine)
            cleanup.pop_all()
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})
        await self.changes.open()

    async def _check_schema(self, engine: AsyncEngine) -> None:
        try:
            async with engine.connect() as conn:
                current = await conn.run_sync(_current_revision)
        except DatabaseError as exc:
            raise ConfigError(
                f"cannot read the keyroute database at {self._path}: {exc.orig}"
            ) from exc
        head = await asyncio.to_thread(head_revision)
        if current is None:
            raise ConfigError(f"the database at {self._path} has no schema: {_HOW_TO_MIGRATE}")
        if current != head:
            raise ConfigError(
                f"the database at {self._path} is at schema revision {current} but this "
                f"keyroute needs {head}: run `keyroute migrate` "
                "(or upgrade keyroute if the database is newer)"
            )

    async def close(self) -> None:
        self.changes.close()
        if self._engine is not None:
            engine, self._engine, self._writer = self._engine, None, None
            await engine.dispose()

    async def migrate(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        secure_files(self._path, create=True)
        url = URL.create("sqlite", database=str(self._path)).render_as_string()
        from alembic import command  # only to migrate (see keyroute.storage.migrations)

        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")

    # Connections

    def _engines(self) -> tuple[AsyncEngine, AsyncEngine]:
        if self._engine is None or self._writer is None:
            raise RuntimeError("SqliteStore is not open; call open() first")
        return self._engine, self._writer

    @asynccontextmanager
    async def _write(
        self, *workspace_ids: str, config: bool = True, changed: list[str] | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """A write transaction; a configuration write (``config``) is a change to
        ``workspace_ids`` plus those the body appends to ``changed`` (none: a setting), noted
        in ``changes`` once committed."""
        touched: dict[str, int] = {}
        async with self._engines()[1].begin() as conn:
            yield conn
            if config:
                sequence = await self._bump(conn)
                for workspace_id in (*workspace_ids, *(changed or ())):
                    touched[workspace_id] = await self._touch(conn, workspace_id, sequence)
        if config:
            self.changes.note(touched)
            self.changes.note_global(sequence)

    @staticmethod
    async def _bump(conn: AsyncConnection) -> int:
        return int((await conn.exec_driver_sql(_BUMP_CONFIG_REVISION)).scalar_one())

    @staticmethod
    async def _touch(conn: AsyncConnection, workspace_id: str, sequence: int) -> int:
        statement = sqlite_insert(workspace_changes).values(
            workspace_id=workspace_id, revision=sequence
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[workspace_changes.c.workspace_id],
                set_={"revision": statement.excluded.revision},
            )
        )
        return sequence

    async def _rows(self, statement: Executable) -> list[Row[Any]]:
        async with self._engines()[0].connect() as conn:
            result = await conn.execute(statement)
            return list(result.all())

    async def _one(self, statement: Executable) -> Row[Any] | None:
        rows = await self._rows(statement)
        return rows[0] if rows else None

    @staticmethod
    async def _require_workspace(conn: AsyncConnection, workspace_id: str) -> None:
        found = await conn.scalar(select(workspaces.c.id).where(workspaces.c.id == workspace_id))
        if found is None:
            raise NotFound(f"workspace {workspace_id!r} does not exist")

    # Workspaces

    async def create_workspace(self, record: WorkspaceRecord) -> None:
        async with self._write(record.id) as conn:
            try:
                await conn.execute(insert(workspaces).values(dataclasses.asdict(record)))
            except IntegrityError as exc:
                raise Conflict(f"workspace {record.name!r} already exists") from exc

    async def get_workspace(self, workspace_id: str) -> WorkspaceRecord | None:
        row = await self._one(select(workspaces).where(workspaces.c.id == workspace_id))
        return None if row is None else WorkspaceRecord(**_fields(row))

    async def find_workspace(self, name: str) -> WorkspaceRecord | None:
        row = await self._one(select(workspaces).where(workspaces.c.name == name))
        return None if row is None else WorkspaceRecord(**_fields(row))

    async def list_workspaces(self) -> list[WorkspaceRecord]:
        rows = await self._rows(select(workspaces).order_by(workspaces.c.name))
        return [WorkspaceRecord(**_fields(row)) for row in rows]

    async def delete_workspace(self, workspace_id: str) -> bool:
        # foreign_keys=ON makes the ON DELETE CASCADE clauses remove every row of the workspace.
        async with self._write(workspace_id) as conn:
            result = await conn.execute(delete(workspaces).where(workspaces.c.id == workspace_id))
            prefix = workspace_setting_key(workspace_id, "")
            await conn.execute(delete(settings).where(settings.c.key.startswith(prefix)))
        return result.rowcount > 0

    async def rewrap_data_keys(
        self, rewrap: Callable[[WorkspaceRecord], Awaitable[tuple[bytes, str]]]
    ) -> int:
        changed: list[str] = []
        async with self._write(changed=changed) as conn:
            rows = (await conn.execute(select(workspaces).order_by(workspaces.c.id))).all()
            for row in rows:
                record = WorkspaceRecord(**_fields(row))
                wrapped, master_key_id = await rewrap(record)
                await conn.execute(
                    update(workspaces)
                    .where(workspaces.c.id == record.id)
                    .values(wrapped_data_key=wrapped, master_key_id=master_key_id)
                )
                changed.append(record.id)
        return len(rows)

    # Gateway API keys

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            try:
                await conn.execute(insert(api_keys).values(dataclasses.asdict(record)))
            except IntegrityError as exc:
                raise Conflict(
                    f"API key {record.name!r} conflicts with an existing key "
                    "(an active key of that name, or the same id or hash)"
                ) from exc

    async def list_api_keys(self, workspace_id: str) -> list[ApiKeyRecord]:
        rows = await self._rows(
            select(api_keys)
            .where(api_keys.c.workspace_id == workspace_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [ApiKeyRecord(**_fields(row)) for row in rows]

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._one(select(api_keys).where(api_keys.c.key_hash == key_hash))
        return None if row is None else ApiKeyRecord(**_fields(row))

    async def revoke_api_key(self, workspace_id: str, key_id: str, at: datetime) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.workspace_id == workspace_id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
        return result.rowcount > 0

    async def pause_api_key(self, workspace_id: str, key_id: str, at: datetime | None) -> bool:
        async with self._write(workspace_id) as conn:
            paused = (
                api_keys.c.paused_at.is_(None)
                if at is not None
                else api_keys.c.paused_at.is_not(None)
            )
            result = await conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.workspace_id == workspace_id,
                    api_keys.c.revoked_at.is_(None),
                    paused,
                )
                .values(paused_at=at)
            )
        return result.rowcount > 0

    async def record_api_key_use(self, last_used: Mapping[str, datetime]) -> None:
        if not last_used:
            return
        used_at = bindparam("used_at", type_=UtcDateTime())
        statement = (
            update(api_keys)
            .where(
                api_keys.c.id == bindparam("key_id"),
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < used_at),
            )
            .values(last_used_at=used_at)
        )
        params = [{"key_id": key_id, "used_at": at} for key_id, at in last_used.items()]
        async with self._write(config=False) as conn:
            await conn.execute(statement, params)

    # Provider keys

    async def add_provider_key(self, record: ProviderKeyRecord) -> None:
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            try:
                await conn.execute(insert(provider_keys).values(dataclasses.asdict(record)))
            except IntegrityError as exc:
                raise Conflict(
                    f"provider key {record.name!r} conflicts with an existing key "
                    "(an active key of that name, or the same id)"
                ) from exc

    async def list_provider_keys(self, workspace_id: str) -> list[ProviderKeyRecord]:
        rows = await self._rows(
            select(provider_keys)
            .where(provider_keys.c.workspace_id == workspace_id)
            .order_by(
                provider_keys.c.revoked_at.is_not(None),
                provider_keys.c.created_at,
                provider_keys.c.id,
            )
        )
        return [ProviderKeyRecord(**_fields(row)) for row in rows]

    async def revoke_provider_key(self, workspace_id: str, key_id: str, at: datetime) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                update(provider_keys)
                .where(
                    provider_keys.c.id == key_id,
                    provider_keys.c.workspace_id == workspace_id,
                    provider_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
        return result.rowcount > 0

    async def reseal_provider_keys(
        self,
        reseal: Callable[[WorkspaceRecord, ProviderKeyRecord], Awaitable[tuple[bytes, bytes]]],
    ) -> int:
        changed: list[str] = []
        async with self._write(changed=changed) as conn:
            rows = (
                await conn.execute(
                    select(provider_keys)
                    .where(provider_keys.c.aad_version < 2)
                    .order_by(provider_keys.c.id)
                )
            ).all()
            for row in rows:
                record = ProviderKeyRecord(**_fields(row))
                ws_row = (
                    await conn.execute(
                        select(workspaces).where(workspaces.c.id == record.workspace_id)
                    )
                ).one()
                nonce, ciphertext = await reseal(WorkspaceRecord(**_fields(ws_row)), record)
                await conn.execute(
                    update(provider_keys)
                    .where(provider_keys.c.id == record.id)
                    .values(nonce=nonce, ciphertext=ciphertext, aad_version=2)
                )
                changed.append(record.workspace_id)
        return len(rows)

    # Aliases

    async def set_alias(self, record: AliasRecord) -> None:
        statement = sqlite_insert(aliases).values(dataclasses.asdict(record))
        statement = statement.on_conflict_do_update(
            index_elements=[aliases.c.workspace_id, aliases.c.alias],
            set_={"target": statement.excluded.target, "created_at": statement.excluded.created_at},
        )
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            await conn.execute(statement)

    async def list_aliases(self, workspace_id: str) -> list[AliasRecord]:
        rows = await self._rows(
            select(aliases).where(aliases.c.workspace_id == workspace_id).order_by(aliases.c.alias)
        )
        return [AliasRecord(**_fields(row)) for row in rows]

    async def delete_alias(self, workspace_id: str, alias: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(aliases).where(
                    aliases.c.workspace_id == workspace_id, aliases.c.alias == alias
                )
            )
        return result.rowcount > 0

    # Price overrides

    async def set_price_override(self, record: PriceOverrideRecord) -> None:
        row = _price_row(record)
        statement = sqlite_insert(price_overrides).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[
                price_overrides.c.workspace_id,
                price_overrides.c.provider,
                price_overrides.c.model,
            ],
            set_={k: statement.excluded[k] for k in ("discount_percent", "prices", "updated_at")},
        )
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            await conn.execute(statement)

    async def list_price_overrides(self, workspace_id: str) -> list[PriceOverrideRecord]:
        rows = await self._rows(
            select(price_overrides)
            .where(price_overrides.c.workspace_id == workspace_id)
            .order_by(price_overrides.c.provider, price_overrides.c.model)
        )
        return [_price_record(row) for row in rows]

    async def delete_price_override(self, workspace_id: str, provider: str, model: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(price_overrides).where(
                    price_overrides.c.workspace_id == workspace_id,
                    price_overrides.c.provider == provider,
                    price_overrides.c.model == model,
                )
            )
        return result.rowcount > 0

    # Settings

    async def get_setting(self, key: str) -> str | None:
        row = await self._one(select(settings.c.value).where(settings.c.key == key))
        return None if row is None else str(row.value)

    async def set_workspace_setting(self, workspace_id: str, key: str, value: str) -> None:
        name = workspace_setting_key(workspace_id, key)
        statement = sqlite_insert(settings).values(key=name, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=[settings.c.key], set_={"value": statement.excluded.value}
        )
        async with self._write(workspace_id) as conn:
            await self._require_workspace(conn, workspace_id)
            await conn.execute(statement)

    async def set_setting(self, key: str, value: str) -> None:
        statement = sqlite_insert(settings).values(key=key, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=[settings.c.key], set_={"value": statement.excluded.value}
        )
        async with self._write() as conn:
            await conn.execute(statement)
