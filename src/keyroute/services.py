"""The composition root: builds every long-lived object from a ``Config`` and owns their lives.

``Services.open`` connects storage and loads the master key (what the CLI needs);
``Services.start`` adds the request-path pieces (upstream pool, background flushers) that
``keyroute serve`` runs. Nothing else constructs storage, vault or HTTP clients.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from keyroute.accounting.pricebook import PriceBook
from keyroute.accounting.usage_spill import UsageSpill
from keyroute.accounting.usage_writer import UsageWriter
from keyroute.admission.events import ThresholdCrossed, ThresholdEvents
from keyroute.admission.policy import Limits
from keyroute.admission.stage import Admission
from keyroute.alerts.delivery import Deliverer, Notifier
from keyroute.alerts.engine import AlertEngine, EngineSettings
from keyroute.alerts.sink import VelocitySink
from keyroute.alerts.velocity import VelocityBoard
from keyroute.audit.entries import AdminEvent
from keyroute.audit.retention import AuditPruner
from keyroute.audit.writer import AuditSpill, AuditWriter
from keyroute.caching.response_cache import ResponseCache
from keyroute.caching.warmth import WarmPrefixes
from keyroute.catalogue import builtin
from keyroute.config.schema import Config
from keyroute.control.alerts import AlertAdmin, WorkspaceBudgets
from keyroute.control.base_url import BaseUrlPolicy
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import ConfigError
from keyroute.core.money import usd_text
from keyroute.core.record import RecordSink
from keyroute.core.secret import Secret
from keyroute.ledger import Charge, Ledger
from keyroute.ledger.memory import MemoryLedger
from keyroute.ledger.sqlite import SqliteLedger
from keyroute.notifiers.smtp import SmtpNotifier, SmtpSettings
from keyroute.notifiers.webhook import HttpNotifier
from keyroute.pipeline import Pipeline, Pricer
from keyroute.pipeline.listing import HostedModels
from keyroute.principals import PrincipalCache
from keyroute.resilience.attempts import AttemptPolicy
from keyroute.resilience.backoff import Backoff
from keyroute.resilience.breakers import BreakerPolicy, HealthBoard
from keyroute.resilience.budget import BudgetPolicy, RetryBudget
from keyroute.response_states import ResponseStates
from keyroute.router import Scorer
from keyroute.routing.feedback import FeedbackBook, RecentRequests
from keyroute.routing.resolver import ModelResolver
from keyroute.routing.selection import AutoRouter
from keyroute.signatures import SignatureCache
from keyroute.storage.base import Store, WorkspaceRecord
from keyroute.storage.memory_response_cache import MemoryResponseCacheStore
from keyroute.storage.registry import open_store
from keyroute.storage.sqlite import SqliteStore
from keyroute.tasks import TaskGroup
from keyroute.upstream import BodyLimits, UpstreamSender, default_mounts
from keyroute.upstream.transport import Transport
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring
from keyroute.workspace_state import WorkspaceDirectory

log = logging.getLogger("keyroute.services")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def load_keyring(config: Config) -> MasterKeyring:
    if config.master_key is not None:
        return MasterKeyring.from_env(config.master_key.get_secret_value())
    path = config.master_key_path
    if not path.exists():
        raise ConfigError(
            f"No master key at {path}. Run `keyroute init` first, or set KEYROUTE_MASTER_KEY."
        )
    return MasterKeyring.load(path)


class Services:
    def __init__(
        self,
        config: Config,
        store: Store,
        keyring: MasterKeyring,
        *,
        mounts: Mapping[str, Transport] | None = None,
    ) -> None:
        """``mounts`` replaces the upstream transports (tests mount a ``FunctionTransport``)."""
        self.config = config
        self.store = store
        self.keyring = keyring
        self.vault = KeyVault(store, keyring)
        self.catalogue = builtin()
        self.prices = PriceBook(self.catalogue, store)
        # Appends every request and admin event to the audit log in batches, off the request path.
        self.audit_writer = AuditWriter(
            store.audit,
            AuditSpill(config.data_dir / "spill"),
            gateway_rate=config.audit.gateway_rate_per_second,
            gateway_burst=config.audit.gateway_burst,
        )
        self.control = ControlPlane(
            store,
            self.vault,
            base_urls=BaseUrlPolicy.from_config(config.base_urls),
            events=self.audit_writer,
        )
        self.sender = UpstreamSender(
            mounts=mounts or default_mounts(max_connections=config.upstream.max_connections),
            limits=BodyLimits(
                max_body_bytes=config.upstream.max_body_bytes,
                max_error_bytes=config.upstream.max_error_bytes,
            ),
        )
        self.principals = PrincipalCache(store)
        self.directory = WorkspaceDirectory(store, self.vault)
        self.resolver = ModelResolver(
            timeouts=config.upstream.timeouts(),
            options=config.providers.model_dump(),
            catalogue=self.catalogue,
        )
        self.signatures = SignatureCache(
            store=store.signatures,
            vault=self.vault,
            workspace=self._workspace_record,
            retention=timedelta(days=config.server.tool_signature_retention_days),
        )
        # Responses API turns for previous_response_id, sealed and written off the request path.
        self.responses = ResponseStates(
            store=store.responses,
            vault=self.vault,
            workspace=self._workspace_record,
            retention=timedelta(days=config.server.response_retention_days),
        )
        self.tasks = TaskGroup()
        resilience = config.resilience
        self.health = HealthBoard(
            BreakerPolicy(
                enabled=resilience.breakers,
                window=resilience.breaker_window,
                min_calls=resilience.breaker_min_calls,
                failure_rate=resilience.breaker_failure_rate,
                open_seconds=resilience.breaker_open_seconds,
                rejected_seconds=resilience.key_rejected_seconds,
            )
        )
        self.retry_budget = RetryBudget(
            BudgetPolicy(
                percent=resilience.retry_budget_percent,
                min_retries=resilience.retry_budget_min_retries,
            )
        )
        attempts = AttemptPolicy(
            max_attempts=resilience.max_attempts,
            max_retries=resilience.max_retries,
            backoff=Backoff(max_retry_after=resilience.max_retry_after_seconds),
        )
        # Plans' quotas, rate limits and budgets: reserved before sending, settled by the meter.
        self.threshold_events = ThresholdEvents()
        self.threshold_events.subscribe(self._audit_threshold)
        self.ledger = ledger_for(store, self._settled)
        self.admission = Admission(self.ledger, events=self.threshold_events)
        # A budget set mid-period starts from the spend already recorded in its period.
        self.control.governance.spend_seed = self.admission.seed_budget
        self.response_cache = MemoryResponseCacheStore(
            max_bytes=config.caching.response_cache_max_bytes,
            max_entry_bytes=config.caching.response_cache_max_entry_bytes,
        )
        self.warmth = WarmPrefixes(self.catalogue)  # the CacheWarmth the router reads
        # model "auto": the difficulty scorer is loaded once, when serving starts.
        self.router = AutoRouter(
            resolver=self.resolver,
            catalogue=self.catalogue,
            scorer=Scorer.load,
            warmth=self.warmth,
        )
        self.pipeline = Pipeline(
            admission=self.admission,
            answers=ResponseCache(self.response_cache),
            warmth=self.warmth,
            router=self.router,
            health=self.health,
            retry_budget=self.retry_budget,
            attempts=attempts,
            directory=self.directory,
            resolver=self.resolver,
            sender=self.sender,
            signatures=self.signatures,
            prices=self.prices,
            catalogue=self.catalogue,
            hosted=HostedModels(
                directory=self.directory,
                resolver=self.resolver,
                sender=self.sender,
                tasks=self.tasks,
            ),
        )
        # Stores each request's usage in batches, off the request path.
        self.usage_writer = UsageWriter(store.usage, UsageSpill(config.data_dir / "spill"))
        # Every finished request record goes to each sink (usage, audit, metrics, alerts).
        # Requests answered lately, so feedback on them needs no database read.
        self.recent_requests = RecentRequests()
        self.feedback = FeedbackBook(store.routing, self.recent_requests)
        self.record_sinks: list[RecordSink] = [
            self.usage_writer,
            self.audit_writer,
            self.recent_requests,
        ]
        self._build_alerts(config)
        # Prices each request's usage at the workspace's prices, list and paid.
        self.pricer: Pricer = self.prices
        self._connected = False

    def _build_alerts(self, config: Config) -> None:
        """Burn-rate alerts: notifiers at the edge, the evaluator, and its velocity sink."""
        cfg = config.alerts
        smtp = cfg.smtp
        self.http_notifier = HttpNotifier(timeout=cfg.delivery_timeout_seconds)
        notifiers: dict[str, Notifier] = {
            "webhook": self.http_notifier,
            "slack": self.http_notifier,
            "email": SmtpNotifier(
                SmtpSettings(
                    host=smtp.host,
                    port=smtp.port,
                    username=smtp.username,
                    password=Secret(smtp.password.get_secret_value()) if smtp.password else None,
                    starttls=smtp.starttls,
                    sender=smtp.from_,
                    timeout=smtp.timeout_seconds,
                    ca_file=str(smtp.ca_file) if smtp.ca_file else None,
                )
            ),
        }
        history = self.store.alerts.append_alert_events
        self.alert_admin = AlertAdmin(
            self.control,
            Deliverer(notifiers, history, clock=_utc_now, attempts=1),
            limits=self._workspace_limits,
        )
        self.alerts = AlertEngine(
            store=self.store,
            board=VelocityBoard(bucket_seconds=cfg.bucket_seconds),
            deliverer=Deliverer(
                notifiers,
                history,
                clock=_utc_now,
                attempts=cfg.delivery_attempts,
                base_delay=cfg.retry_base_seconds,
            ),
            channels=self.alert_admin,
            actions=self.alert_admin,
            budgets=WorkspaceBudgets(self._workspace_limits),
            clock=_utc_now,
            holder=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
            settings=EngineSettings(
                interval=cfg.evaluate_interval_seconds,
                settle=cfg.settle_seconds,
                immediate_pico=int(cfg.immediate_cost_usd * 10**12),
                overlap_seconds=cfg.sync_overlap_seconds,
                lease_seconds=cfg.lease_seconds,
            ),
            spawn=lambda coro: self.tasks.spawn(coro, name="alert-delivery"),
        )
        if cfg.enabled:
            self.record_sinks.append(VelocitySink(self.alerts))
            # A budget threshold the ledger saw crossed: evaluate that workspace's rules now.
            self.threshold_events.subscribe(lambda event: self.alerts.urgent(event.workspace_id))

    @classmethod
    def build(cls, config: Config) -> Services:
        """Construct everything without connecting (``connect``/``start`` do the I/O)."""
        keyring = load_keyring(config)
        return cls(config, open_store(config.resolved_database_url), keyring)

    @classmethod
    async def open(cls, config: Config) -> Services:
        services = cls.build(config)
        await services.connect()
        return services

    async def connect(self) -> None:
        if not self._connected:
            await self.store.open()
            self._connected = True

    async def check(self) -> dict[str, object]:
        """What ``check-config`` reports; ``ConfigError`` when the master key cannot unwrap
        every workspace's data key (a wrong ``KEYROUTE_MASTER_KEY`` or key file)."""
        failed = await self.vault.warm()
        if failed:
            source = (
                "KEYROUTE_MASTER_KEY"
                if self.config.master_key is not None
                else str(self.config.master_key_path)
            )
            raise ConfigError(
                f"The master key from {source} cannot decrypt the data keys of workspace(s) "
                f"{', '.join(sorted(failed))}: use the master key that wrapped them."
            )
        workspaces = await self.store.list_workspaces()
        return {
            "ok": True,
            "data_dir": str(self.config.data_dir),
            "database_url": self.config.resolved_database_url,
            "master_key_source": "env"
            if self.config.master_key is not None
            else str(self.config.master_key_path),
            "master_key_id": self.keyring.active_id,
            "workspaces": len(workspaces),
            "alerts_smtp": self._smtp_report(),
        }

    def _smtp_report(self) -> dict[str, object]:
        """The SMTP server alert emails go through, as configured (never the password)."""
        smtp = self.config.alerts.smtp
        return {
            "host": smtp.host or None,
            "port": smtp.port,
            "username": smtp.username or None,
            "password_set": smtp.password is not None,
            "starttls": smtp.starttls,
            "from": smtp.from_,
        }

    def _settled(self, charge: Charge, before: int, after: int) -> None:
        self.admission.settled(charge, before, after)

    def _audit_threshold(self, event: ThresholdCrossed) -> None:
        """A budget threshold crossing, in the workspace's audit log."""
        self.audit_writer.log_event(
            AdminEvent(
                action="budget.threshold",
                time=datetime.now(UTC),
                workspace_id=event.workspace_id,
                actor="keyroute",
                target=event.scope if event.subject is None else f"{event.scope}:{event.subject}",
                details={
                    "period": event.period,
                    "period_id": event.period_id,
                    "percent": event.percent,
                    "cap_usd": usd_text(event.cap_pico),
                    "spend_usd": usd_text(event.spend_pico),
                    "action": event.action,
                    "resets_at": datetime.fromtimestamp(event.resets_at, UTC).isoformat(),
                },
            )
        )

    async def _workspace_limits(self, workspace_id: str) -> Limits:
        return (await self.directory.get(workspace_id)).limits

    async def _workspace_record(self, workspace_id: str) -> WorkspaceRecord:
        return (await self.directory.get(workspace_id)).workspace

    async def start(self) -> None:
        """Start what serving needs: storage, the upstream pool and the background writers."""
        await self.connect()
        failed = await self.vault.warm()
        if failed:
            log.error("the master key cannot unwrap the data keys of workspaces %s", failed)
        await self.sender.start()
        self.router.warm()
        self.tasks.spawn(self.principals.run_flusher(), name="api-key-last-used")
        await self.ledger.start(self.tasks.spawn)
        self.usage_writer.start(self.tasks.spawn)
        self.audit_writer.start(self.tasks.spawn)
        self.tasks.spawn(
            AuditPruner(self.store).run(self.config.audit.prune_interval_seconds),
            name="audit-retention",
        )
        self.tasks.spawn(
            self.store.changes.follow(self.config.server.change_poll_seconds),
            name="configuration-changes",
        )
        self.tasks.spawn(self.signatures.run_writer(), name="tool-signatures")
        self.tasks.spawn(self.responses.run_writer(), name="response-states")
        if self.config.alerts.enabled:
            self.tasks.spawn(self.alerts.run(), name="alerts-evaluator")

    async def close(self) -> None:
        # Stop the record writers first: each stores every queued record (or spills what the
        # database refuses within its grace period) before storage closes.
        writers = (self.usage_writer, self.audit_writer)
        closed = await asyncio.gather(*(w.close() for w in writers), return_exceptions=True)
        for writer, result in zip(writers, closed, strict=True):
            if isinstance(result, BaseException):  # shutting down: report, then keep closing
                log.error("could not close the %s", type(writer).__name__, exc_info=result)
        await self.tasks.close()
        try:
            await self.ledger.close()  # settled amounts flushed, unused leases given back
        except Exception:  # shutting down: report, then keep closing
            log.exception("could not close the ledger")
        try:
            await self.principals.flush()
        except Exception:  # shutting down: report, then keep closing
            log.exception("could not record gateway key use at shutdown")
        try:
            await self.signatures.flush()
        except Exception:  # shutting down: report, then keep closing
            log.exception("could not store tool-call signatures at shutdown")
        try:
            await self.responses.flush()
        except Exception:  # shutting down: report, then keep closing
            log.exception("could not store Responses API state at shutdown")
        await self.sender.close()
        await self.http_notifier.close()
        if self._connected:
            await self.store.close()
            self._connected = False


def ledger_for(store: Store, on_settled: Callable[[Charge, int, int], None]) -> Ledger:
    """The ledger beside ``store``: a file next to a SQLite database (shared by the workers of
    the host), else in memory (one process)."""
    if isinstance(store, SqliteStore):
        path = store.path
        return SqliteLedger(path.with_name(path.name + ".ledger"), on_settled=on_settled)
    return MemoryLedger(on_settled=on_settled)
