"""``keyroute usage``: a workspace's requests, tokens and costs over a time range."""

from __future__ import annotations

from typing import Any

import click

from keyroute.accounting.usage_report import GROUPINGS, UsageResult
from keyroute.cli.group import cli, control, json_option, workspace_option
from keyroute.cli.output import emit_json, emit_table
from keyroute.control.governance import WorkspaceUse
from keyroute.control.governance_views import use_view
from keyroute.control.plane import ControlPlane
from keyroute.control.usage_views import (
    GROUP_FIELDS,
    totals_view,
    usage_csv,
    usage_document,
    usage_lines,
)

_TABLE = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "list_cost_usd",
    "discount_saving_usd",
    "reference_cost_usd",
    "routing_saving_usd",
    "cost_unknown_requests",
)


@cli.command()
@workspace_option
@click.option(
    "--by",
    type=click.Choice(GROUPINGS),
    default=None,
    help="One line per day (in the workspace's time zone), model, gateway key, provider, "
    "end user or routing policy.",
)
@click.option("--since", default=None, help="From (inclusive): 2026-03-01, an ISO time, or 7d.")
@click.option("--until", default=None, help="To (exclusive; a bare date includes that day).")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.pass_context
def usage(
    ctx: click.Context,
    workspace: str,
    by: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Requests, tokens by class and cost (paid, at list price, saved) of a workspace, then
    the plan's quota and the budgets with their use in the current month and day.

    Costs are exact USD. Requests whose model has no known price are not in the cost sums:
    they are counted in cost_unknown_requests.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")

    async def work(c: ControlPlane) -> tuple[UsageResult, WorkspaceUse]:
        report = await c.usage(workspace, by=by, since=since, until=until)
        return report, await c.governance.use(workspace)

    result, use = control(ctx, as_json, work)
    if as_json:
        emit_json({**usage_document(result), **use_view(use)})
    elif as_csv:
        click.echo(usage_csv(result), nl=False)
    else:
        group = [GROUP_FIELDS[result.by]] if result.by else []
        if result.by == "key":
            group.append("key_name")
        rows = usage_lines(result) if result.by else []
        total = {**dict.fromkeys(group, "TOTAL"), **totals_view(result.total)}
        emit_table([*rows, total], [*group, *_TABLE])
        if result.total.unknown_cost_requests:
            click.echo(
                f"note: {result.total.unknown_cost_requests} request(s) have no known price "
                "and are not in the cost columns",
                err=True,
            )
        _limits(use_view(use))


def _limits(view: dict[str, Any]) -> None:
    quota = view["quota"]
    limit = "unlimited" if quota["limit"] is None else f"{quota['limit']:,}"
    click.echo(
        f"\nquota ({quota['plan']} plan): {quota['used']:,} of {limit} requests this month "
        f"({quota['timezone']}), resets {quota['resets_at']}"
    )
    for b in view["budgets"]:
        whom = {"workspace": "workspace", "key": f"key {b['key_name'] or b['key_id']}"}.get(
            b["scope"], f"user {b['user']}"
        )
        parts = [
            f"{label} {spent} of {cap} USD" if cap is not None else f"{label} {spent} USD (no cap)"
            for label, spent, cap in (
                ("today", b["spent_today_usd"], b["daily_usd"]),
                ("this month", b["spent_month_usd"], b["monthly_usd"]),
            )
        ]
        action = b["action"] + (f" to {b['downgrade_to']}" if b["downgrade_to"] else "")
        click.echo(f"budget ({whom}): {'; '.join(parts)}; at the cap: {action}")
