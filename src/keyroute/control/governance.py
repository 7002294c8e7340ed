"""``Governance``: the control plane's operations on plans, rate limits and budgets.

Shared by the CLI (``keyroute workspace set-plan``, ``keyroute ratelimit``, ``keyroute budget``)
and the admin API (``/admin/v1/workspaces/{id}/plan|ratelimits|budgets``). Values are checked
by ``governance.rules``; every change is one store write (the workspace's revision moves, so
every worker's ``WorkspaceState.limits`` reloads) and one admin event with the old and new
values.

Setting merges: a field not given keeps its stored value, so ``budget set --monthly 50`` keeps
the daily cap and the action. A cap given as ``none`` (JSON ``null``) removes that cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from keyroute.admission.policy import Budget
from keyroute.catalogue import Catalogue
from keyroute.control.audit_log import AuditLog
from keyroute.control.field_names import CLI_NAMES, FieldNames
from keyroute.control.governance_use import BudgetUse, GovernanceUse, QuotaUse
from keyroute.control.plan_state import PlanState, plan_state
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.governance import rules
from keyroute.governance.limits import budget as budget_limit
from keyroute.plans import CUSTOM, PLAN_NAMES, PLANS
from keyroute.routing.model_id import check_model_id
from keyroute.storage.base import (
    ApiKeyRecord,
    BudgetAction,
    BudgetRecord,
    BudgetScope,
    PlanSettingsRecord,
    RateLimitRecord,
    Store,
    WorkspaceRecord,
)


class SpendSeed(Protocol):
    """``Admission.seed_budget``: a budget's counters raised to the spend already recorded."""

    async def __call__(
        self,
        workspace_id: str,
        budget: Budget,
        timezone: str,
        at: float,
        *,
        daily_pico: int | None,
        monthly_pico: int | None,
    ) -> None: ...


KEEP: object = object()
"""A field not given (kept as stored); ``None`` given for a cap removes it."""

NONE_WORDS = frozenset({"none", "null", "off"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceUse:
    quota: QuotaUse
    budgets: tuple[BudgetUse, ...]
    rate_limits: tuple[RateLimitRecord, ...]
    key_names: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Whom a budget or rate limit counts: the workspace, a gateway key or an end-user tag."""

    scope: BudgetScope
    subject: str  # "" for the workspace, a key id, or the tag
    key: ApiKeyRecord | None = None


def _plan_values(state: PlanState) -> dict[str, object]:
    return {
        "plan": state.plan,
        "monthly_requests": state.monthly_requests,
        "timezone": state.timezone,
    }


def _limit_values(record: RateLimitRecord) -> dict[str, object]:
    return {
        "requests_per_minute": record.requests_per_minute,
        "tokens_per_minute": record.tokens_per_minute,
    }


def _budget_values(record: BudgetRecord) -> dict[str, object]:
    return {
        "daily_pico": record.daily_pico,
        "monthly_pico": record.monthly_pico,
        "action": record.action,
        "downgrade_to": record.downgrade_to,
        "thresholds": ",".join(str(t) for t in record.thresholds),
    }


def _target(subject: Subject) -> str:
    return subject.scope if subject.scope == "workspace" else f"{subject.scope}:{subject.subject}"


def _cap(value: object, param: str, stored: int | None) -> int | None:
    if value is KEEP:
        return stored
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        return None
    return rules.usd(value, param)


class Governance:
    def __init__(
        self,
        store: Store,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]],
        audit: AuditLog,
        catalogue: Catalogue,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._audit = audit
        self._catalogue = catalogue
        self._clock = clock
        self._use = GovernanceUse(store.usage, clock)
        self.spend_seed: SpendSeed | None = None  # admission's, where a ledger is at hand

    # What is used of the limits

    async def use(self, name_or_id: str) -> WorkspaceUse:
        """The quota's and the budgets' use in their current periods, with the rate limits."""
        workspace = await self._workspace(name_or_id)
        settings = await self._store.governance.governance(workspace.id)
        state = plan_state(workspace, settings.plan)
        return WorkspaceUse(
            quota=await self._use.quota(state),
            budgets=tuple(await self._use.budgets(state.timezone, settings.budgets)),
            rate_limits=settings.rate_limits,
            key_names=await self.key_names(workspace),
        )

    async def budget_use(self, timezone: str, budgets: list[BudgetRecord]) -> list[BudgetUse]:
        return await self._use.budgets(timezone, budgets)

    async def key_names(self, workspace: WorkspaceRecord) -> dict[str, str]:
        return {k.id: k.name for k in await self._store.list_api_keys(workspace.id)}

    # Plans

    async def plan(self, name_or_id: str) -> PlanState:
        workspace = await self._workspace(name_or_id)
        return plan_state(workspace, (await self._store.governance.governance(workspace.id)).plan)

    async def set_plan(
        self,
        name_or_id: str,
        plan: object = KEEP,
        *,
        quota: object = KEEP,
        timezone: object = KEEP,
        names: FieldNames = CLI_NAMES,
    ) -> PlanState:
        """Put the workspace on ``plan`` (kept when not given); ``quota`` only for ``custom``
        (a number or ``unlimited``, kept from before when the workspace is already custom);
        ``timezone`` kept when not given (UTC at first)."""
        if plan is not KEEP and plan not in PLAN_NAMES:
            raise InvalidRequest(
                f"Unknown plan {ascii(str(plan)[:40])}. Plans: {', '.join(PLAN_NAMES)}.",
                param=names.param("plan"),
            )
        zone = None if timezone is KEEP else rules.timezone(timezone, names.param("timezone"))
        workspace = await self._workspace(name_or_id)
        stored = (await self._store.governance.governance(workspace.id)).plan
        before = plan_state(workspace, stored)
        plan = before.plan if plan is KEEP else plan
        assert isinstance(plan, str)  # noqa: S101 (a plan name, checked above or stored)
        monthly = self._quota(plan, quota, before, names)
        record = PlanSettingsRecord(
            workspace_id=workspace.id,
            monthly_requests=monthly,
            timezone=before.timezone if zone is None else zone,
            updated_at=self._clock(),
        )
        await self._store.governance.set_plan(workspace.id, plan, record)
        after = plan_state(_with_plan(workspace, plan), record)
        self._audit.emit(
            "plan.set",
            workspace.id,
            target=workspace.id,
            old=_plan_values(before),
            new=_plan_values(after),
        )
        return after

    @staticmethod
    def _quota(plan: str, quota: object, before: PlanState, names: FieldNames) -> int | None:
        param, label = names.param("quota"), names.label("quota")
        if plan != CUSTOM:
            if quota is not KEEP and quota is not None:
                raise InvalidRequest(
                    f"The {plan} plan has a fixed quota of {PLANS[plan].monthly_requests:,} "
                    f"requests a month; use the custom plan to set your own ({label}).",
                    param=param,
                )
            return None
        if quota is KEEP or quota is None:
            if before.plan != CUSTOM:
                raise InvalidRequest(
                    f"The custom plan needs its monthly request quota: {label} N, or {label} "
                    "unlimited.",
                    param=param,
                )
            return before.monthly_requests
        return rules.quota(quota, param)

    # Whom a limit counts

    async def _subject(
        self,
        workspace: WorkspaceRecord,
        key: str | None,
        user: object = None,
        *,
        active: bool,
        names: FieldNames = CLI_NAMES,
    ) -> Subject:
        if key is not None and user is not None:
            raise InvalidRequest(
                "A budget is for the workspace, one gateway key or one end user: "
                f"give {names.label('key')} or {names.label('user')}, not both.",
                param=names.param("user"),
            )
        if user is not None:
            return Subject(scope="user", subject=rules.end_user(user, names.param("user")))
        if key is None:
            return Subject(scope="workspace", subject="")
        found = await self._key(workspace, key, active=active)
        return Subject(scope="key", subject=found.id, key=found)

    async def subject(
        self, workspace: WorkspaceRecord, key: str | None, user: object = None
    ) -> Subject:
        """Whom ``--key`` (an active gateway key, by name or id) or ``--user`` (an end-user
        tag) name; the workspace when neither is given. Errors name the field."""
        return await self._subject(workspace, key, user, active=True)

    async def _key(self, workspace: WorkspaceRecord, key: str, *, active: bool) -> ApiKeyRecord:
        keys = await self._store.list_api_keys(workspace.id)
        found = next((k for k in keys if k.id == key), None) or next(
            (k for k in keys if k.name == key and k.revoked_at is None), None
        )
        if found is None:
            raise NotFound(
                f"No gateway key named or with id {ascii(key[:80])} in workspace "
                f"'{workspace.name}'.",
                param="key",
            )
        if active and found.revoked_at is not None:
            raise InvalidRequest(f"Gateway key '{found.id}' is revoked.", param="key")
        return found

    # Rate limits

    async def rate_limits(
        self, name_or_id: str, key: str | None = None
    ) -> tuple[WorkspaceRecord, list[RateLimitRecord]]:
        workspace = await self._workspace(name_or_id)
        found = list((await self._store.governance.governance(workspace.id)).rate_limits)
        if key is not None:
            subject = await self._subject(workspace, key, active=False)
            found = [r for r in found if r.api_key_id == subject.subject]
        return workspace, found

    async def set_rate_limit(
        self,
        name_or_id: str,
        key: str | None = None,
        *,
        requests_per_minute: object = KEEP,
        tokens_per_minute: object = KEEP,
        names: FieldNames = CLI_NAMES,
    ) -> RateLimitRecord:
        """Set requests and/or tokens per minute of the workspace or one gateway key; an axis
        not given keeps its value, ``None`` (``none``) lifts it."""
        rpm, tpm = names.label("requests_per_minute"), names.label("tokens_per_minute")
        if requests_per_minute is KEEP and tokens_per_minute is KEEP:
            raise InvalidRequest(
                f"Give a requests-per-minute limit ({rpm}), a tokens-per-minute limit ({tpm}) "
                "or both.",
                param=names.param("requests_per_minute"),
            )
        workspace = await self._workspace(name_or_id)
        subject = await self._subject(workspace, key, active=True, names=names)
        stored = next(
            (
                r
                for r in (await self._store.governance.governance(workspace.id)).rate_limits
                if r.api_key_id == subject.subject
            ),
            None,
        )
        record = RateLimitRecord(
            workspace_id=workspace.id,
            api_key_id=subject.subject,
            requests_per_minute=_axis(
                requests_per_minute,
                names.param("requests_per_minute"),
                None if stored is None else stored.requests_per_minute,
            ),
            tokens_per_minute=_axis(
                tokens_per_minute,
                names.param("tokens_per_minute"),
                None if stored is None else stored.tokens_per_minute,
            ),
            updated_at=self._clock(),
        )
        if record.requests_per_minute is None and record.tokens_per_minute is None:
            raise InvalidRequest(
                "That leaves no limit at all: clear the rate limit to remove it.",
                param=names.param("requests_per_minute"),
            )
        await self._store.governance.set_rate_limit(record)
        self._audit.emit(
            "ratelimit.set",
            workspace.id,
            target=_target(subject),
            old=None if stored is None else _limit_values(stored),
            new=_limit_values(record),
        )
        return record

    async def clear_rate_limit(self, name_or_id: str, key: str | None = None) -> RateLimitRecord:
        workspace, found = await self.rate_limits(name_or_id, key)
        subject = await self._subject(workspace, key, active=False)
        stored = next((r for r in found if r.api_key_id == subject.subject), None)
        if stored is None or not await self._store.governance.delete_rate_limit(
            workspace.id, subject.subject
        ):
            whom = "the workspace" if key is None else f"gateway key '{subject.subject}'"
            raise NotFound(
                f"No rate limit for {whom} in workspace '{workspace.name}'.",
                param="key" if key is not None else "workspace",
            )
        self._audit.emit(
            "ratelimit.clear", workspace.id, target=_target(subject), old=_limit_values(stored)
        )
        return stored

    # Budgets

    async def budgets(
        self, name_or_id: str, key: str | None = None, user: object = None, *, every: bool = True
    ) -> tuple[WorkspaceRecord, list[BudgetRecord]]:
        """The workspace's budgets; with ``key`` or ``user`` (or ``every=False``: the
        workspace's own), only that subject's."""
        workspace = await self._workspace(name_or_id)
        found = list((await self._store.governance.governance(workspace.id)).budgets)
        if key is None and user is None and every:
            return workspace, found
        subject = await self._subject(workspace, key, user, active=False)
        return workspace, [
            b for b in found if (b.scope, b.subject) == (subject.scope, subject.subject)
        ]

    async def set_budget(
        self,
        name_or_id: str,
        key: str | None = None,
        user: object = None,
        *,
        daily: object = KEEP,
        monthly: object = KEEP,
        action: object = KEEP,
        downgrade_to: object = KEEP,
        thresholds: object = KEEP,
        names: FieldNames = CLI_NAMES,
    ) -> BudgetRecord:
        workspace = await self._workspace(name_or_id)
        subject = await self._subject(workspace, key, user, active=True, names=names)
        stored = next(
            (
                b
                for b in (await self._store.governance.governance(workspace.id)).budgets
                if (b.scope, b.subject) == (subject.scope, subject.subject)
            ),
            None,
        )
        daily_pico = _cap(
            daily, names.param("daily"), None if stored is None else stored.daily_pico
        )
        monthly_pico = _cap(
            monthly, names.param("monthly"), None if stored is None else stored.monthly_pico
        )
        rules.caps(
            daily_pico, monthly_pico, daily=names.names["daily"], monthly=names.names["monthly"]
        )
        chosen = _action(action, "block" if stored is None else stored.action, names)
        model = await self._downgrade(workspace, chosen, downgrade_to, stored, names)
        record = BudgetRecord(
            workspace_id=workspace.id,
            scope=subject.scope,
            subject=subject.subject,
            daily_pico=daily_pico,
            monthly_pico=monthly_pico,
            action=chosen,
            downgrade_to=model,
            thresholds=(
                (stored.thresholds if stored is not None else rules.DEFAULT_THRESHOLDS)
                if thresholds is KEEP
                else rules.thresholds(thresholds, names.param("thresholds"))
            ),
            updated_at=self._clock(),
        )
        await self._store.governance.set_budget(record)
        await self._seed(workspace, record, stored)
        self._audit.emit(
            "budget.set",
            workspace.id,
            target=_target(subject),
            old=None if stored is None else _budget_values(stored),
            new=_budget_values(record),
        )
        return record

    async def _seed(
        self, workspace: WorkspaceRecord, record: BudgetRecord, stored: BudgetRecord | None
    ) -> None:
        """A cap that starts now (a new budget, or a period cap it did not have) counts the
        spend already recorded in its period: the ledger's counter is raised to it."""
        daily = record.daily_pico is not None and (stored is None or stored.daily_pico is None)
        monthly = record.monthly_pico is not None and (
            stored is None or stored.monthly_pico is None
        )
        if self.spend_seed is None or not (daily or monthly):
            return
        settings = await self._store.governance.governance(workspace.id)
        timezone = plan_state(workspace, settings.plan).timezone
        (use,) = await self._use.budgets(timezone, [record])
        await self.spend_seed(
            workspace.id,
            budget_limit(record),
            timezone,
            use.day_window.start.timestamp(),
            daily_pico=use.today.paid_pico if daily else None,
            monthly_pico=use.month.paid_pico if monthly else None,
        )

    async def _downgrade(
        self,
        workspace: WorkspaceRecord,
        action: BudgetAction,
        downgrade_to: object,
        stored: BudgetRecord | None,
        names: FieldNames = CLI_NAMES,
    ) -> str | None:
        to, act = names.label("downgrade_to"), names.label("action")
        if action == "block":
            if downgrade_to is not KEEP and downgrade_to is not None:
                raise InvalidRequest(
                    f"{to} goes with {act} downgrade.", param=names.param("downgrade_to")
                )
            return None
        if downgrade_to is KEEP or downgrade_to is None:
            if stored is not None and stored.downgrade_to is not None:
                return stored.downgrade_to
            raise InvalidRequest(
                f"{act} downgrade needs the model to serve at the cap ({to}).",
                param=names.param("downgrade_to"),
            )
        return await self.check_model(workspace, downgrade_to, names)

    async def check_model(
        self, workspace: WorkspaceRecord, model: object, names: FieldNames = CLI_NAMES
    ) -> str:
        """A model the workspace can be served by: an alias of the workspace, a catalogue model
        (``provider/model`` or an unambiguous bare id) or a model it has prices for."""
        param = names.param("downgrade_to")
        if not isinstance(model, str) or not model:
            raise InvalidRequest(f"{names.label('downgrade_to')} must be a model id.", param=param)
        check_model_id(model, param=param)
        aliases = {a.alias for a in await self._store.list_aliases(workspace.id)}
        if model in aliases or self._catalogue.find(model) is not None:
            return model
        priced = {
            f"{p.provider}/{p.model}"
            for p in await self._store.list_price_overrides(workspace.id)
            if p.model and p.prices
        }
        if model in priced:
            return model
        raise InvalidRequest(
            f"Unknown model {ascii(model[:120])} for {names.label('downgrade_to')}: use a "
            "catalogue model (keyroute models), an alias of the workspace, or a model the "
            "workspace has prices for.",
            param=param,
        )

    async def clear_budget(
        self, name_or_id: str, key: str | None = None, user: object = None
    ) -> BudgetRecord:
        workspace, found = await self.budgets(name_or_id, key, user, every=False)
        if not found:
            whom = (
                "the workspace"
                if key is None and user is None
                else (f"gateway key {ascii(key)}" if key is not None else "that end user")
            )
            raise NotFound(
                f"No budget for {whom} in workspace '{workspace.name}'.",
                param="user" if user is not None else ("key" if key is not None else "workspace"),
            )
        (stored,) = found
        await self._store.governance.delete_budget(workspace.id, stored.scope, stored.subject)
        target = Subject(scope=stored.scope, subject=stored.subject)
        self._audit.emit(
            "budget.clear", workspace.id, target=_target(target), old=_budget_values(stored)
        )
        return stored


def _with_plan(workspace: WorkspaceRecord, plan: str) -> WorkspaceRecord:
    return replace(workspace, plan=plan)


def _axis(value: object, param: str, stored: int | None) -> int | None:
    if value is KEEP:
        return stored
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        return None
    return rules.per_minute(value, param)


def _action(value: object, stored: BudgetAction, names: FieldNames) -> BudgetAction:
    chosen = stored if value is KEEP or value is None else value
    if chosen == "block" or chosen == "downgrade":
        return chosen
    raise InvalidRequest(
        f"Invalid action {ascii(str(chosen)[:40])} for {names.label('action')}: use block or "
        "downgrade.",
        param=names.param("action"),
    )
