"""``keyroute routing set|show|list|delete|report``: a workspace's routing policies for
``model: "auto"`` and how its routed traffic did (savings, feedback)."""

from __future__ import annotations

from typing import Any

import click

from keyroute.cli.group import cli, control, json_option, workspace_option
from keyroute.cli.output import emit, emit_json, emit_table
from keyroute.control.routing import report_document

_POLICY_COLUMNS = (
    "name",
    "default",
    "source",
    "candidates",
    "reference",
    "quality",
    "max_strong_share",
)
_REPORT_COLUMNS = (
    "policy",
    "model",
    "requests",
    "cost_usd",
    "reference_cost_usd",
    "routing_saving_usd",
    "saving_rate",
    "feedback",
    "feedback_mean_score",
    "thumbs_up",
    "thumbs_down",
)
_DAY_COLUMNS = (
    "day",
    "policy",
    "requests",
    "cost_usd",
    "reference_cost_usd",
    "routing_saving_usd",
)


def _row(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "candidates": ",".join(view["candidates"])}


@cli.group()
def routing() -> None:
    """Routing policies for model "auto": candidates, reference model, quality knob."""


@routing.command("set")
@workspace_option
@click.option("--policy", "policy", required=True, help="Policy name (auto:NAME).")
@click.option(
    "--candidates", required=True, help="Model ids from the cheapest to the strongest: M1,M2."
)
@click.option("--reference", required=True, help="The model the saving is measured against.")
@click.option("--quality", type=float, default=None, help="Quality to keep, 0-1 (default 0.95).")
@click.option(
    "--max-strong-share", type=float, default=None, help="Most requests to the strongest, 0-1."
)
@click.option("--default", "is_default", is_flag=True, help='What model "auto" uses.')
@json_option
@click.pass_context
def set_policy(
    ctx: click.Context,
    workspace: str,
    policy: str,
    candidates: str,
    reference: str,
    quality: float | None,
    max_strong_share: float | None,
    is_default: bool,
    as_json: bool,
) -> None:
    """Create or replace a routing policy."""
    if quality is not None and max_strong_share is not None:
        raise click.UsageError("give one of --quality and --max-strong-share")
    models = [m for m in (c.strip() for c in candidates.split(",")) if m]
    view = control(
        ctx,
        as_json,
        lambda c: c.routing.set_policy(
            workspace,
            policy=policy,
            candidates=models,
            reference=reference,
            quality=quality,
            max_strong_share=max_strong_share,
            default=is_default,
        ),
    )
    emit(view if as_json else _row(view), as_json)


@routing.command("show")
@workspace_option
@click.option("--policy", default=None, help='Policy name (default: the one "auto" uses).')
@json_option
@click.pass_context
def show_policy(ctx: click.Context, workspace: str, policy: str | None, as_json: bool) -> None:
    """One routing policy (without --policy: the one model "auto" uses)."""
    view = control(ctx, as_json, lambda c: c.routing.show_policy(workspace, policy))
    emit(view if as_json else _row(view), as_json)


@routing.command("list")
@workspace_option
@json_option
@click.pass_context
def list_policies(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """Every routing policy of a workspace: shipped ones and its own."""
    views = control(ctx, as_json, lambda c: c.routing.list_policies(workspace))
    if as_json:
        emit_json({"data": views})
    else:
        emit_table([_row(v) for v in views], _POLICY_COLUMNS)


@routing.command("delete")
@workspace_option
@click.option("--policy", required=True, help="Policy name.")
@json_option
@click.pass_context
def delete_policy(ctx: click.Context, workspace: str, policy: str, as_json: bool) -> None:
    """Delete one of the workspace's own routing policies."""
    control(ctx, as_json, lambda c: c.routing.delete_policy(workspace, policy))
    emit({"policy": policy, "deleted": True}, as_json)


@routing.command("report")
@workspace_option
@click.option("--since", default=None, help="From (inclusive): 2026-03-01, an ISO time, or 7d.")
@click.option("--until", default=None, help="To (exclusive; a bare date includes that day).")
@json_option
@click.pass_context
def report(
    ctx: click.Context, workspace: str, since: str | None, until: str | None, as_json: bool
) -> None:
    """Routed requests per policy and chosen model: counts, savings against the reference
    model, and client feedback; then cost and saving per policy and day."""
    result = control(ctx, as_json, lambda c: c.routing.report(workspace, since=since, until=until))
    document = report_document(result)
    if as_json:
        emit_json(document)
        return
    emit_table(document["data"], _REPORT_COLUMNS)
    if document["days"]:
        click.echo("")
        emit_table(document["days"], _DAY_COLUMNS)
