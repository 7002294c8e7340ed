"""``keyroute alerts``: burn-rate alert channels, rules, tests and history; and
``keyroute api-key pause|resume`` (what an alert tells you to run)."""

from __future__ import annotations

import sys

import click

from keyroute.alerts.rules import RuleInput
from keyroute.cli.group import cli, json_option, run, workspace_option
from keyroute.cli.output import emit
from keyroute.cli.resources import api_key
from keyroute.control.alerts import channel_view, event_view, rule_view
from keyroute.core.alert_store import AlertRuleKind

name_option = click.option("--name", required=True, help="Name, unique in the workspace.")


@cli.group()
def alerts() -> None:
    """Burn-rate alerts: channels (webhook, Slack, email), rules, tests and history."""


@alerts.group()
def channel() -> None:
    """Where alerts are sent."""


@channel.command("add")
@workspace_option
@name_option
@click.option("--webhook", default=None, help="Generic webhook URL (signed JSON POST).")
@click.option("--secret-stdin", is_flag=True, help="Read the webhook signing secret from stdin.")
@click.option("--slack", default=None, help="Slack incoming-webhook URL (kept in the vault).")
@click.option("--email", default=None, help="Email address (sent through [alerts.smtp]).")
@json_option
@click.pass_context
def channel_add(
    ctx: click.Context,
    workspace: str,
    name: str,
    webhook: str | None,
    secret_stdin: bool,
    slack: str | None,
    email: str | None,
    as_json: bool,
) -> None:
    """Add a channel. A webhook without --secret-stdin gets a generated signing secret,
    shown once."""
    if sum(v is not None for v in (webhook, slack, email)) != 1:
        raise click.UsageError("give exactly one of --webhook, --slack and --email")
    if secret_stdin and webhook is None:
        raise click.UsageError("--secret-stdin goes with --webhook")
    secret = sys.stdin.read().strip() if secret_stdin else None
    added = run(
        ctx,
        as_json,
        lambda s: s.alert_admin.add_channel(
            workspace, name, webhook=webhook, slack=slack, email=email, secret=secret
        ),
    )
    view = channel_view(added.record)
    if added.secret is not None:
        view["secret"] = added.secret
    emit(view, as_json)
    if added.secret is not None and not as_json:
        click.echo("note: the signing secret is shown only now; keep it", err=True)


@channel.command("list")
@workspace_option
@json_option
@click.pass_context
def channel_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List a workspace's channels (never their secrets)."""
    records = run(ctx, as_json, lambda s: s.alert_admin.list_channels(workspace))
    emit([channel_view(c) for c in records], as_json, ["name", "kind", "target", "created_at"])


@channel.command("remove")
@workspace_option
@name_option
@json_option
@click.pass_context
def channel_remove(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Remove a channel no rule uses."""
    run(ctx, as_json, lambda s: s.alert_admin.remove_channel(workspace, name))
    emit({"name": name, "removed": True}, as_json)


def _kind(
    burn_rate: str | None,
    anomaly: str | None,
    budget_threshold: str | None,
    projection: bool,
    error_rate: str | None,
    request_rate: str | None,
) -> tuple[AlertRuleKind, str | None]:
    options: tuple[tuple[AlertRuleKind, str | None, bool], ...] = (
        ("burn_rate", burn_rate, burn_rate is not None),
        ("anomaly", anomaly, anomaly is not None),
        ("budget_threshold", budget_threshold, budget_threshold is not None),
        ("projection", None, projection),
        ("error_rate", error_rate, error_rate is not None),
        ("request_rate", request_rate, request_rate is not None),
    )
    chosen = [(kind, value) for kind, value, given in options if given]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --burn-rate, --anomaly, --budget-threshold, --projection, "
            "--error-rate and --request-rate"
        )
    return chosen[0]


@alerts.command("add")
@workspace_option
@name_option
@click.option("--channel", "channel_name", required=True, help="The channel to notify.")
@click.option("--burn-rate", default=None, metavar="USD", help="Spend rate threshold.")
@click.option("--per", default=None, help="--burn-rate per hour|day (--request-rate: minute too).")
@click.option("--window", default=None, help="Long window, e.g. 15m (default 1h; 6h per day).")
@click.option("--anomaly", default=None, metavar="X", help="X times the same hour's median.")
@click.option("--baseline", default=None, help="Anomaly baseline in days (default 7d).")
@click.option("--min-spend", default=None, metavar="USD", help="Anomaly minimum spend ($1).")
@click.option("--budget-threshold", default=None, metavar="PERCENT", help="Of a budget.")
@click.option("--projection", is_flag=True, help="Monthly budget runs out before month end.")
@click.option("--error-rate", default=None, metavar="PERCENT", help="Failed requests percent.")
@click.option("--min-requests", default=None, help="Error-rate minimum requests (default 20).")
@click.option("--request-rate", default=None, metavar="N", help="Requests per --per.")
@click.option("--escalate", default=None, help="Second threshold (default: twice the first).")
@click.option("--timezone", default=None, help="Anomaly and budget rules' time zone (UTC).")
@click.option("--cooldown", default=None, help="Between repeated notifications (default 30m).")
@click.option(
    "--action",
    type=click.Choice(["notify", "pause-key", "downgrade"]),
    default="notify",
    help="Besides notifying: pause the top key, or switch to the budget downgrade model.",
)
@json_option
@click.pass_context
def alerts_add(
    ctx: click.Context,
    workspace: str,
    name: str,
    channel_name: str,
    burn_rate: str | None,
    per: str | None,
    window: str | None,
    anomaly: str | None,
    baseline: str | None,
    min_spend: str | None,
    budget_threshold: str | None,
    projection: bool,
    error_rate: str | None,
    min_requests: str | None,
    request_rate: str | None,
    escalate: str | None,
    timezone: str | None,
    cooldown: str | None,
    action: str,
    as_json: bool,
) -> None:
    """Add an alert rule."""
    kind, value = _kind(burn_rate, anomaly, budget_threshold, projection, error_rate, request_rate)
    spec = RuleInput(
        kind=kind,
        value=value,
        per=per,
        window=window,
        baseline=baseline,
        min_spend=min_spend,
        min_requests=min_requests,
        timezone=timezone,
        escalate=escalate,
        cooldown=cooldown,
        action=action,
    )
    record = run(
        ctx, as_json, lambda s: s.alert_admin.add_rule(workspace, name, channel_name, spec)
    )
    emit(rule_view(record, channel_name, None), as_json)


@alerts.command("list")
@workspace_option
@json_option
@click.pass_context
def alerts_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List a workspace's rules and whether each is firing."""
    rules = run(ctx, as_json, lambda s: s.alert_admin.list_rules(workspace))
    emit(
        [rule_view(r, ch, st) for r, ch, st in rules],
        as_json,
        ["name", "channel", "description", "action", "state"],
    )


@alerts.command("remove")
@workspace_option
@name_option
@json_option
@click.pass_context
def alerts_remove(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Remove a rule."""
    run(ctx, as_json, lambda s: s.alert_admin.remove_rule(workspace, name))
    emit({"name": name, "removed": True}, as_json)


@alerts.command("test")
@workspace_option
@name_option
@json_option
@click.pass_context
def alerts_test(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Send a test notification of rule NAME through its channel (one attempt)."""
    result = run(ctx, as_json, lambda s: s.alert_admin.test(workspace, name))
    emit(result, as_json)
    if not result["delivered"]:
        sys.exit(1)


@alerts.command("history")
@workspace_option
@click.option("--since", default=None, help="A duration back (7d) or an ISO time.")
@click.option("--limit", type=int, default=200, show_default=True)
@json_option
@click.pass_context
def alerts_history(
    ctx: click.Context, workspace: str, since: str | None, limit: int, as_json: bool
) -> None:
    """Every firing, escalation, resolution, action and delivery attempt, oldest first."""
    events = run(ctx, as_json, lambda s: s.alert_admin.history(workspace, since=since, limit=limit))
    rows = [event_view(e) for e in events]
    if as_json:
        emit(rows, as_json)
        return
    for row in rows:
        detail = row["detail"] if isinstance(row["detail"], dict) else {}
        row["note"] = detail.get("error") or detail.get("result") or ""
    emit(rows, False, ["time", "rule", "kind", "outcome", "channel", "attempt", "note"])


@api_key.command("pause")
@workspace_option
@click.argument("key_id")
@json_option
@click.pass_context
def api_key_pause(ctx: click.Context, workspace: str, key_id: str, as_json: bool) -> None:
    """Pause gateway key KEY_ID: its requests get a 403 until it is resumed."""
    run(ctx, as_json, lambda s: s.control.pause_api_key(workspace, key_id))
    emit({"id": key_id, "paused": True}, as_json)


@api_key.command("resume")
@workspace_option
@click.argument("key_id")
@json_option
@click.pass_context
def api_key_resume(ctx: click.Context, workspace: str, key_id: str, as_json: bool) -> None:
    """Resume a paused gateway key."""
    run(ctx, as_json, lambda s: s.control.resume_api_key(workspace, key_id))
    emit({"id": key_id, "paused": False}, as_json)
