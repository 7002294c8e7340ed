"""Commands over workspaces, gateway keys, provider keys and aliases."""

from __future__ import annotations

import sys

import click

from keyroute.cli.group import cli, control, json_option, workspace_option
from keyroute.cli.output import emit
from keyroute.control.plane import ControlPlane
from keyroute.control.views import alias_view, api_key_view, provider_key_view, workspace_view
from keyroute.workspace_state import ResponsePolicy


# --- workspaces ---------------------------------------------------------------------------
@cli.group()
def workspace() -> None:
    """Create, list and delete workspaces."""


@workspace.command("create")
@click.argument("name")
@click.option("--plan", default=None, help="free (default), build, scale or business.")
@json_option
@click.pass_context
def workspace_create(ctx: click.Context, name: str, plan: str | None, as_json: bool) -> None:
    """Create workspace NAME."""
    record = control(ctx, as_json, lambda c: c.create_workspace(name, plan))
    emit(workspace_view(record), as_json)


@workspace.command("list")
@json_option
@click.pass_context
def workspace_list(ctx: click.Context, as_json: bool) -> None:
    """List workspaces."""
    records = control(ctx, as_json, lambda c: c.list_workspaces())
    emit(
        [workspace_view(w) for w in records],
        as_json,
        ["id", "name", "plan", "monthly_request_quota", "created_at"],
    )


@workspace.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def workspace_delete(ctx: click.Context, name: str, yes: bool, as_json: bool) -> None:
    """Delete workspace NAME (name or id), its keys, and its data key (crypto-shredding)."""
    if not yes and not as_json and sys.stdin.isatty():
        click.confirm(f"Delete workspace '{name}' and all its keys?", abort=True)
    record = control(ctx, as_json, lambda c: c.delete_workspace(name))
    emit({**workspace_view(record), "deleted": True}, as_json)


@workspace.command("responses")
@click.argument("name")
@click.option(
    "--store/--no-store",
    default=None,
    help="Keep Responses API turns for previous_response_id (the default), or not.",
)
@click.option(
    "--retention-days",
    type=float,
    default=None,
    help="How long stored turns are kept (default: server.response_retention_days).",
)
@json_option
@click.pass_context
def workspace_responses(
    ctx: click.Context, name: str, store: bool | None, retention_days: float | None, as_json: bool
) -> None:
    """Show or set whether workspace NAME stores Responses API turns, and for how long."""

    async def work(c: ControlPlane) -> ResponsePolicy:
        if store is None and retention_days is None:
            return await c.response_storage(name)
        current = await c.response_storage(name)
        keep = current.store if store is None else store
        days = current.retention_days if retention_days is None else retention_days
        return await c.set_response_storage(name, store=keep, retention_days=days)

    policy = control(ctx, as_json, work)
    emit(
        {"workspace": name, "store": policy.store, "retention_days": policy.retention_days}, as_json
    )


# --- provider keys ------------------------------------------------------------------------
@cli.group("provider-key")
def provider_key() -> None:
    """Register, list and revoke provider keys (encrypted at rest)."""


@provider_key.command("add")
@workspace_option
@click.option("--provider", required=True, help="openai, anthropic, gemini, mistral, ...")
@click.option("--key-stdin", is_flag=True, help="Read the key from standard input.")
@click.option("--name", default=None, help="Key name (default: the provider id).")
@click.option(
    "--base-url", default=None, help="Endpoint override (required for openai-compatible)."
)
@json_option
@click.pass_context
def provider_key_add(
    ctx: click.Context,
    workspace: str,
    provider: str,
    key_stdin: bool,
    name: str | None,
    base_url: str | None,
    as_json: bool,
) -> None:
    """Add a provider key. The key is read from stdin and never echoed."""
    key = sys.stdin.read().strip() if key_stdin else ""
    record = control(
        ctx,
        as_json,
        lambda c: c.add_provider_key(workspace, provider, key, name=name, base_url=base_url),
    )
    emit(provider_key_view(record), as_json)


@provider_key.command("list")
@workspace_option
@json_option
@click.pass_context
def provider_key_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List provider keys (fingerprint and last four characters only)."""
    records = control(ctx, as_json, lambda c: c.list_provider_keys(workspace))
    emit(
        [provider_key_view(k) for k in records],
        as_json,
        ["id", "provider", "name", "last4", "fingerprint", "base_url", "created_at", "active"],
    )


@provider_key.command("revoke")
@workspace_option
@click.argument("key_id")
@json_option
@click.pass_context
def provider_key_revoke(ctx: click.Context, workspace: str, key_id: str, as_json: bool) -> None:
    """Revoke provider key KEY_ID."""
    control(ctx, as_json, lambda c: c.revoke_provider_key(workspace, key_id))
    emit({"id": key_id, "revoked": True}, as_json)


# --- gateway API keys ---------------------------------------------------------------------
@cli.group("api-key")
def api_key() -> None:
    """Create, list and revoke gateway API keys."""


@api_key.command("create")
@workspace_option
@click.option("--name", default=None, help="Key name.")
@json_option
@click.pass_context
def api_key_create(ctx: click.Context, workspace: str, name: str | None, as_json: bool) -> None:
    """Create a gateway key. It is printed once and stored only as a hash."""
    created = control(ctx, as_json, lambda c: c.create_api_key(workspace, name))
    emit({**api_key_view(created.record), "key": created.key}, as_json)
    if not as_json:
        click.echo("Store this key now: it will not be shown again.", err=True)


@api_key.command("list")
@workspace_option
@json_option
@click.pass_context
def api_key_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List gateway keys (prefix only)."""
    records = control(ctx, as_json, lambda c: c.list_api_keys(workspace))
    emit(
        [api_key_view(k) for k in records],
        as_json,
        ["id", "name", "prefix", "created_at", "last_used_at", "active"],
    )


@api_key.command("revoke")
@workspace_option
@click.argument("key_id")
@json_option
@click.pass_context
def api_key_revoke(ctx: click.Context, workspace: str, key_id: str, as_json: bool) -> None:
    """Revoke gateway key KEY_ID; the next request with it is refused."""
    control(ctx, as_json, lambda c: c.revoke_api_key(workspace, key_id))
    emit({"id": key_id, "revoked": True}, as_json)


# --- aliases ------------------------------------------------------------------------------
@cli.group()
def alias() -> None:
    """Workspace model aliases (a name for a provider/model id)."""


@alias.command("set")
@workspace_option
@click.argument("name")
@click.argument("target")
@json_option
@click.pass_context
def alias_set(ctx: click.Context, workspace: str, name: str, target: str, as_json: bool) -> None:
    """Point alias NAME at model id TARGET (e.g. fast openai/gpt-4o-mini)."""
    record = control(ctx, as_json, lambda c: c.set_alias(workspace, name, target))
    emit(alias_view(record), as_json)


@alias.command("list")
@workspace_option
@json_option
@click.pass_context
def alias_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List aliases."""
    records = control(ctx, as_json, lambda c: c.list_aliases(workspace))
    emit([alias_view(a) for a in records], as_json, ["alias", "target", "created_at"])


@alias.command("remove")
@workspace_option
@click.argument("name")
@json_option
@click.pass_context
def alias_remove(ctx: click.Context, workspace: str, name: str, as_json: bool) -> None:
    """Remove alias NAME."""
    control(ctx, as_json, lambda c: c.delete_alias(workspace, name))
    emit({"alias": name, "deleted": True}, as_json)
