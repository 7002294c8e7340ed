"""Plans, budgets and rate limits: ``keyroute workspace set-plan``, ``keyroute budget``,
``keyroute ratelimit``.

Thin over ``ControlPlane.governance``, which checks every value; a flag not given keeps the
stored value (``budget set --monthly 50`` keeps the daily cap and the action), and ``none``
lifts one cap or one rate-limit axis.
"""

from __future__ import annotations

from typing import Any

import click

from keyroute.cli.group import cli, control, json_option, workspace_option
from keyroute.cli.output import emit, emit_json, emit_table
from keyroute.cli.resources import workspace
from keyroute.control.governance import KEEP, Governance
from keyroute.control.governance_views import (
    budget_use_view,
    budget_view,
    plan_view,
    rate_limit_view,
)
from keyroute.control.plane import ControlPlane

key_option = click.option(
    "--key", "-k", default=None, help="A gateway key of the workspace (name or id)."
)
user_option = click.option(
    "--user", "-u", default=None, help="An end-user tag (OpenAI user, x-keyroute-user...)."
)


def _given(value: object) -> object:
    return KEEP if value is None else value


def _subject(row: dict[str, Any]) -> str:
    if row["scope"] == "workspace":
        return "(workspace)"
    if row["scope"] == "key":
        return f"key {row['key_name'] or row['key_id']}"
    return f"user {row['user']}"


# --- plans --------------------------------------------------------------------------------
@workspace.command("set-plan")
@click.argument("name")
@click.argument("plan")
@click.option(
    "--quota",
    default=None,
    help="Requests a month on the custom plan: a number, or 'unlimited'.",
)
@click.option(
    "--timezone",
    default=None,
    help="IANA time zone of the quota's month and budgets' days (default UTC; kept if not given).",
)
@json_option
@click.pass_context
def workspace_set_plan(
    ctx: click.Context,
    name: str,
    plan: str,
    quota: str | None,
    timezone: str | None,
    as_json: bool,
) -> None:
    """Put workspace NAME on PLAN: free (2,500 requests a month), build (100,000), scale
    (500,000), business (5,000,000) or custom (--quota N or --quota unlimited)."""
    state = control(
        ctx,
        as_json,
        lambda c: c.governance.set_plan(name, plan, quota=_given(quota), timezone=_given(timezone)),
    )
    emit(plan_view(state), as_json)


@workspace.command("plan")
@click.argument("name")
@json_option
@click.pass_context
def workspace_plan(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show workspace NAME's plan, monthly request quota and time zone."""
    state = control(ctx, as_json, lambda c: c.governance.plan(name))
    emit(plan_view(state), as_json)


# --- budgets ------------------------------------------------------------------------------
@cli.group()
def budget() -> None:
    """Daily and monthly USD caps of a workspace, a gateway key or an end user."""


@budget.command("set")
@workspace_option
@key_option
@user_option
@click.option("--daily", default=None, help="Daily cap in USD ('none': no daily cap).")
@click.option("--monthly", default=None, help="Monthly cap in USD ('none': no monthly cap).")
@click.option(
    "--action",
    default=None,
    help="At the cap: block (HTTP 429, the default) or downgrade (serve --downgrade-to).",
)
@click.option("--downgrade-to", default=None, help="The cheaper model served at the cap.")
@click.option(
    "--thresholds", default=None, help="Percentages recorded as events (default 50,80,100)."
)
@json_option
@click.pass_context
def budget_set(
    ctx: click.Context,
    workspace: str,
    key: str | None,
    user: str | None,
    daily: str | None,
    monthly: str | None,
    action: str | None,
    downgrade_to: str | None,
    thresholds: str | None,
    as_json: bool,
) -> None:
    """Set the budget of the workspace, or of one gateway key (--key) or end user (--user).

    Flags not given keep their stored values. A daily cap above the monthly cap is refused.
    """

    async def work(c: ControlPlane) -> dict[str, Any]:
        record = await c.governance.set_budget(
            workspace,
            key,
            user,
            daily=_given(daily),
            monthly=_given(monthly),
            action=_given(action),
            downgrade_to=_given(downgrade_to),
            thresholds=_given(thresholds),
        )
        names = await c.governance.key_names(await c.workspace(workspace))
        return budget_view(record, names)

    emit(control(ctx, as_json, work), as_json)


_BUDGET_TABLE = (
    "subject",
    "daily_usd",
    "spent_today_usd",
    "monthly_usd",
    "spent_month_usd",
    "action",
    "downgrade_to",
    "month_resets_at",
)


@budget.command("show")
@workspace_option
@key_option
@user_option
@json_option
@click.pass_context
def budget_show(
    ctx: click.Context, workspace: str, key: str | None, user: str | None, as_json: bool
) -> None:
    """Show the budgets (or one key's or user's) with today's and this month's spend."""

    async def work(c: ControlPlane) -> list[dict[str, Any]]:
        gov: Governance = c.governance
        ws, found = await gov.budgets(workspace, key, user)
        state = await gov.plan(ws.id)
        names = await gov.key_names(ws)
        return [budget_use_view(u, names) for u in await gov.budget_use(state.timezone, found)]

    rows = control(ctx, as_json, work)
    if as_json:
        emit_json({"data": rows})
    else:
        emit_table([{**r, "subject": _subject(r)} for r in rows], _BUDGET_TABLE)


@budget.command("clear")
@workspace_option
@key_option
@user_option
@json_option
@click.pass_context
def budget_clear(
    ctx: click.Context, workspace: str, key: str | None, user: str | None, as_json: bool
) -> None:
    """Remove the budget of the workspace, or of one gateway key or end user."""

    async def work(c: ControlPlane) -> dict[str, Any]:
        record = await c.governance.clear_budget(workspace, key, user)
        names = await c.governance.key_names(await c.workspace(workspace))
        return {**budget_view(record, names), "deleted": True}

    emit(control(ctx, as_json, work), as_json)


# --- rate limits --------------------------------------------------------------------------
@cli.group()
def ratelimit() -> None:
    """Requests and tokens per minute of a workspace or a gateway key."""


@ratelimit.command("set")
@workspace_option
@key_option
@click.option("--rpm", default=None, help="Requests per minute ('none': no request limit).")
@click.option("--tpm", default=None, help="Tokens per minute ('none': no token limit).")
@json_option
@click.pass_context
def ratelimit_set(
    ctx: click.Context,
    workspace: str,
    key: str | None,
    rpm: str | None,
    tpm: str | None,
    as_json: bool,
) -> None:
    """Set the rate limit of the workspace, or of one gateway key (--key).

    A limit not given keeps its stored value. Tokens are the prompt estimate at admission,
    corrected with the actual usage once the answer is complete.
    """

    async def work(c: ControlPlane) -> dict[str, Any]:
        record = await c.governance.set_rate_limit(
            workspace, key, requests_per_minute=_given(rpm), tokens_per_minute=_given(tpm)
        )
        names = await c.governance.key_names(await c.workspace(workspace))
        return rate_limit_view(record, names)

    emit(control(ctx, as_json, work), as_json)


@ratelimit.command("show")
@workspace_option
@key_option
@json_option
@click.pass_context
def ratelimit_show(ctx: click.Context, workspace: str, key: str | None, as_json: bool) -> None:
    """Show the rate limits of the workspace and its gateway keys (or of one key)."""

    async def work(c: ControlPlane) -> list[dict[str, Any]]:
        ws, found = await c.governance.rate_limits(workspace, key)
        names = await c.governance.key_names(ws)
        return [rate_limit_view(r, names) for r in found]

    rows = control(ctx, as_json, work)
    if as_json:
        emit_json({"data": rows})
    else:
        emit_table(
            [
                {
                    **r,
                    "subject": "(workspace)"
                    if r["scope"] == "workspace"
                    else f"key {r['key_name'] or r['key_id']}",
                }
                for r in rows
            ],
            ["subject", "requests_per_minute", "tokens_per_minute", "updated_at"],
        )


@ratelimit.command("clear")
@workspace_option
@key_option
@json_option
@click.pass_context
def ratelimit_clear(ctx: click.Context, workspace: str, key: str | None, as_json: bool) -> None:
    """Remove the rate limit of the workspace, or of one gateway key."""

    async def work(c: ControlPlane) -> dict[str, Any]:
        record = await c.governance.clear_rate_limit(workspace, key)
        names = await c.governance.key_names(await c.workspace(workspace))
        return {**rate_limit_view(record, names), "deleted": True}

    emit(control(ctx, as_json, work), as_json)
