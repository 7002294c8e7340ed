"""``keyroute audit verify|head|export``: check, publish and export a workspace's audit log."""

from __future__ import annotations

import sys

import click

from keyroute.cli.group import cli, control, json_option, run
from keyroute.cli.output import emit_json
from keyroute.control.audit_log import ExportFilters
from keyroute.services import Services

_workspace = click.option("--workspace", "-w", default=None, help="Workspace name or id.")
_gateway = click.option(
    "--gateway",
    is_flag=True,
    help="The gateway-level log (requests refused before a workspace was known).",
)


def _target(workspace: str | None, gateway: bool) -> None:
    if gateway == (workspace is not None):
        raise click.UsageError("name one of --workspace and --gateway")


@cli.group()
def audit() -> None:
    """The audit log: one hash-chained record per request and admin event."""


@audit.command()
@_workspace
@_gateway
@click.option("--expect", default=None, help="A published head (SEQ:HASH) that must still hold.")
@json_option
@click.pass_context
def verify(
    ctx: click.Context, workspace: str | None, gateway: bool, expect: str | None, as_json: bool
) -> None:
    """Recompute the hash chain; exit 0 when intact, 2 naming the first broken record."""
    _target(workspace, gateway)
    verdict = control(
        ctx, as_json, lambda c: c.audit.verify(workspace, gateway=gateway, expect=expect)
    )
    head = verdict.head
    if as_json:
        emit_json(
            {
                "ok": verdict.ok,
                "log": verdict.log,
                "records": verdict.records,
                "broken_seq": verdict.broken.seq if verdict.broken else None,
                "broken_id": verdict.broken.entry.id if verdict.broken else None,
                "problem": verdict.problem,
                "head": f"{head.seq}:{head.hash}" if head and verdict.ok else None,
            }
        )
    elif verdict.ok:
        shown = f", head {head.seq}:{head.hash}" if head else ""
        click.echo(f"ok: {verdict.records} records intact{shown}")
    else:
        click.echo(f"broken: {verdict.problem}", err=True)
    if not verdict.ok:
        sys.exit(2)


@audit.command()
@_workspace
@_gateway
@json_option
@click.pass_context
def head(ctx: click.Context, workspace: str | None, gateway: bool, as_json: bool) -> None:
    """Print the chain's head (SEQ:HASH): store it elsewhere to detect a cut tail later."""
    _target(workspace, gateway)
    log, row = control(ctx, as_json, lambda c: c.audit.head(workspace, gateway=gateway))
    if as_json:
        emit_json(
            {
                "log": log,
                "seq": row.seq if row else 0,
                "hash": row.hash if row else None,
                "time": row.entry.time.isoformat() if row else None,
                "head": f"{row.seq}:{row.hash}" if row else None,
            }
        )
    else:
        click.echo(f"{row.seq}:{row.hash}" if row else "0:")


@audit.command()
@_workspace
@_gateway
@click.option("--since", default=None, help="From (inclusive): 2026-03-01, an ISO time, or 7d.")
@click.option("--until", default=None, help="To (exclusive; a bare date includes that day).")
@click.option("--key", default=None, help="Only this gateway key id.")
@click.option("--model", default=None, help="Only this model (requested or served).")
@click.option("--status", default=None, help="Only this HTTP status.")
@click.option("--user", default=None, help="Only this end-user tag.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.pass_context
def export(
    ctx: click.Context,
    workspace: str | None,
    gateway: bool,
    since: str | None,
    until: str | None,
    key: str | None,
    model: str | None,
    status: str | None,
    user: str | None,
    fmt: str,
) -> None:
    """Stream the log's records to stdout (schema: docs/audit.md); the export is audited."""
    _target(workspace, gateway)
    filters = ExportFilters(
        since=since, until=until, key=key, model=model, status=status, user=user
    )

    async def work(services: Services) -> None:
        lines = await services.control.audit.export(workspace, filters, fmt, gateway=gateway)
        out = sys.stdout
        async for line in lines:
            out.write(line)
        out.flush()

    run(ctx, False, work)


@audit.command()
@click.option("--workspace", "-w", required=True, help="Workspace name or id.")
@click.option("--days", default=None, help="Keep records this many days (pruned in background).")
@click.option("--forever", is_flag=True, help="Keep every record (the default).")
@json_option
@click.pass_context
def retention(
    ctx: click.Context, workspace: str, days: str | None, forever: bool, as_json: bool
) -> None:
    """Show or set how long the workspace's audit records are kept."""
    if days is not None and forever:
        raise click.UsageError("choose one of --days and --forever")
    if days is None and not forever:
        kept = control(ctx, as_json, lambda c: c.audit.retention(workspace))
    else:
        kept = control(ctx, as_json, lambda c: c.audit.set_retention(workspace, days))
    if as_json:
        emit_json({"retention_days": None if kept is None else str(kept)})
    else:
        click.echo("forever" if kept is None else f"{kept} days")


@audit.command("body-logging")
@click.option("--workspace", "-w", required=True, help="Workspace name or id.")
@click.option(
    "--on/--off",
    "enabled",
    default=None,
    help="Log request and response bodies (redacted, encrypted), or not (the default).",
)
@click.option(
    "--pattern",
    "patterns",
    multiple=True,
    help="A regular expression to redact besides the built-in rules (repeat; replaces the list).",
)
@click.option("--clear-patterns", is_flag=True, help="Remove the workspace's own patterns.")
@json_option
@click.pass_context
def body_logging(
    ctx: click.Context,
    workspace: str,
    enabled: bool | None,
    patterns: tuple[str, ...],
    clear_patterns: bool,
    as_json: bool,
) -> None:
    """Show or set whether the workspace's audit log keeps request and response bodies.

    Off by default. When on, bodies are redacted (API keys and tokens of every provider
    format, emails, card numbers, and the workspace's patterns) and encrypted with the
    workspace's data key; `keyroute audit export` shows them.
    """
    if patterns and clear_patterns:
        raise click.UsageError("choose one of --pattern and --clear-patterns")
    new_patterns = [] if clear_patterns else (list(patterns) if patterns else None)
    if enabled is None and new_patterns is None:
        policy = control(ctx, as_json, lambda c: c.audit.body_logging(workspace))
    else:
        policy = control(
            ctx,
            as_json,
            lambda c: c.audit.set_body_logging(workspace, enabled=enabled, patterns=new_patterns),
        )
    if as_json:
        emit_json({"enabled": policy.enabled, "patterns": list(policy.patterns)})
    else:
        click.echo(f"body logging: {'on' if policy.enabled else 'off'}")
        for pattern in policy.patterns:
            click.echo(f"pattern: {pattern}")
