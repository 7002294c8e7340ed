"""``keyroute alerts``: burn-rate alert channels, rules, tests, history and the end of an alert
downgrade; and ``keyroute api-key pause|resume`` (what an alert tells you to run).

The rule options are one table (``_RULE_OPTIONS``) whose names are the admin API's fields, so
``alerts add`` hands them to the same ``rule_spec`` as the admin API; bad input fails in the
command frame (one line, or a JSON error with ``--json``) naming the flag.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from keyroute.cli.group import cli, json_option, run, workspace_option
from keyroute.cli.output import emit
from keyroute.cli.resources import api_key
from keyroute.control.alerts import (
    channel_view,
    downgrade_view,
    event_view,
    rule_spec,
    rule_view,
)
from keyroute.core.errors import InvalidRequest

F = TypeVar("F", bound=Callable[..., Any])

name_option = click.option("--name", required=True, help="Name, unique in the workspace.")


def _named(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--workspace``, ``--name``, ``--json`` and the click context: what most commands take."""
    return workspace_option(name_option(json_option(click.pass_context(command))))


# (flag, metavar, help); a flag without a metavar is a switch. Names are the admin API's fields.
_RULE_OPTIONS: tuple[tuple[str, str | None, str], ...] = (
    ("--burn-rate", "USD", "Kind: spend rate threshold, USD per --per."),
    ("--anomaly", "X", "Kind: X times the same hour's median spend."),
    ("--budget-threshold", "PERCENT", "Kind: percent of a daily or monthly budget."),
    ("--projection", None, "Kind: the monthly budget runs out before the month ends."),
    ("--error-rate", "PERCENT", "Kind: percent of failed requests."),
    ("--request-rate", "N", "Kind: requests per --per."),
    ("--per", "PERIOD", "--burn-rate per hour|day (--request-rate: minute too); default hour."),
    ("--window", "DURATION", "Rate rules' long window, e.g. 15m (default 1h; 6h per day)."),
    ("--baseline", "DAYS", "Anomaly baseline, 1d to 28d (default 7d)."),
    ("--min-spend", "USD", "Anomaly minimum spend in the last hour (default 1)."),
    ("--min-requests", "N", "Error-rate minimum requests in the window (default 20)."),
    ("--timezone", "ZONE", "Anomaly rules' time zone for the same hour (default UTC)."),
    ("--key", "KEY", "Budget rules: a gateway key's budget (name or id)."),
    ("--user", "TAG", "Budget rules: an end user's budget (the end-user tag)."),
    ("--escalate", "VALUE", "Second threshold (default: twice the first; 100% for budgets)."),
    ("--cooldown", "DURATION", "Between repeated notifications (default 30m)."),
)


def _rule_options(command: F) -> F:
    for name, metavar, text in reversed(_RULE_OPTIONS):
        if metavar is None:
            command = click.option(name, is_flag=True, default=None, help=text)(command)
        else:
            command = click.option(name, default=None, metavar=metavar, help=text)(command)
    return command


@cli.group()
def alerts() -> None:
    """Burn-rate alerts: channels (webhook, Slack, email), rules, tests and history."""


@alerts.group()
def channel() -> None:
    """Where alerts are sent."""


def _secret(webhook: str | None, secret_stdin: bool) -> str | None:
    """The signing secret piped in with ``--secret-stdin`` (a webhook's only)."""
    if not secret_stdin:
        return None
    if webhook is None:
        raise InvalidRequest("--secret-stdin goes with --webhook.", param="secret")
    if sys.stdin.isatty():
        raise InvalidRequest(
            "--secret-stdin reads the signing secret from a pipe: "
            'printf %s "$SECRET" | keyroute alerts channel add ...',
            param="secret",
        )
    return sys.stdin.read().strip()


@channel.command("add")
@click.option("--webhook", default=None, metavar="URL", help="Generic webhook (signed JSON POST).")
@click.option("--secret-stdin", is_flag=True, help="Read the webhook signing secret from stdin.")
@click.option("--slack", default=None, metavar="URL", help="Slack incoming-webhook URL (vault).")
@click.option("--email", default=None, metavar="ADDRESS", help="Sent through [alerts.smtp].")
@_named
def channel_add(
    ctx: click.Context,
    workspace: str,
    name: str,
    as_json: bool,
    webhook: str | None,
    secret_stdin: bool,
    slack: str | None,
    email: str | None,
) -> None:
    """Add a channel: one of --webhook, --slack and --email. A webhook without
    --secret-stdin gets a generated signing secret, shown once."""
    added = run(
        ctx,
        as_json,
        lambda s: s.alert_admin.add_channel(
            workspace,
            name,
            webhook=webhook,
            slack=slack,
            email=email,
            secret=_secret(webhook, secret_stdin),
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
@_named
def channel_remove(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Remove a channel no rule uses."""
    run(ctx, as_json, lambda s: s.alert_admin.remove_channel(workspace, name))
    emit({"name": name, "removed": True}, as_json)


@alerts.command("add")
@click.option("--channel", "channel_name", required=True, help="The channel to notify.")
@_rule_options
@click.option(
    "--action",
    type=click.Choice(["notify", "pause-key", "downgrade"]),
    default="notify",
    help="Besides notifying: pause the top key (a --key rule: that key), or switch the "
    "workspace to its budget downgrade model until `keyroute alerts resume`.",
)
@_named
def alerts_add(
    ctx: click.Context,
    workspace: str,
    name: str,
    as_json: bool,
    channel_name: str,
    **fields: str | bool | None,
) -> None:
    """Add an alert rule: exactly one kind (--burn-rate, --anomaly, --budget-threshold,
    --projection, --error-rate, --request-rate) and the options of that kind."""
    record = run(
        ctx,
        as_json,
        lambda s: s.alert_admin.add_rule(workspace, name, channel_name, rule_spec(fields)),
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
@_named
def alerts_remove(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Remove a rule."""
    run(ctx, as_json, lambda s: s.alert_admin.remove_rule(workspace, name))
    emit({"name": name, "removed": True}, as_json)


@alerts.command("test")
@_named
def alerts_test(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Send a test notification of rule NAME through its channel (one attempt); exit 1 if it
    was not delivered."""
    result = run(ctx, as_json, lambda s: s.alert_admin.test(workspace, name))
    emit(result, as_json)
    if not result["delivered"]:
        sys.exit(1)


@alerts.command("history")
@workspace_option
@click.option("--since", default=None, help="A duration back (7d) or an ISO time.")
@click.option("--limit", type=int, default=200, show_default=True, help="At most, 1 to 10000.")
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


@alerts.command("resume")
@workspace_option
@json_option
@click.pass_context
def alerts_resume(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """End the downgrade an alert rule's --action downgrade switched the workspace to: its
    requests are served by the models they name again."""
    ended = run(ctx, as_json, lambda s: s.alert_admin.resume(workspace))
    emit({**downgrade_view(ended), "resumed": True}, as_json)


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
    """Resume a paused gateway key (one an alert rule's --action pause-key paused, too)."""
    run(ctx, as_json, lambda s: s.control.resume_api_key(workspace, key_id))
    emit({"id": key_id, "paused": False}, as_json)
