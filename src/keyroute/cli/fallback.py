"""Resilience commands: ``keyroute fallback set|show|clear`` (fallback chains per model),
``keyroute timeouts set|show|clear`` (upstream time limits per workspace and model),
``keyroute provider-key weight`` (balancing across a provider's keys) and ``keyroute health``
(the circuit breakers of a running gateway, from ``GET /admin/v1/health``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import click

from keyroute.cli.group import _config, _fail, cli, control, json_option, workspace_option
from keyroute.cli.output import emit
from keyroute.cli.resources import provider_key
from keyroute.core.errors import GatewayError, InvalidRequest, NoRouteAvailable

_MODEL_HELP = "Model id or alias the setting is for (default: every model, '*')."


# --- fallback chains ----------------------------------------------------------------------
@cli.group()
def fallback() -> None:
    """Fallback chains: the models to try, in order, when a model fails."""


@fallback.command("set")
@workspace_option
@click.argument("model")
@click.argument("chain", nargs=-1, required=True)
@click.option("--on-refusal", is_flag=True, help="Also fail over when the model refuses to answer.")
@json_option
@click.pass_context
def fallback_set(
    ctx: click.Context,
    workspace: str,
    model: str,
    chain: tuple[str, ...],
    on_refusal: bool,
    as_json: bool,
) -> None:
    """Try CHAIN in order when MODEL fails (MODEL: an id, an alias, or '*' for every model).

    A chain entry is a model id or alias, or next-best: the catalogue's closest models the
    workspace holds a key for. Example: keyroute fallback set -w acme
    anthropic/claude-sonnet-5 openai/gpt-6.2-sol gemini/gemini-3.1-pro-preview
    """
    setting = control(
        ctx,
        as_json,
        lambda c: c.resilience.set_fallback(workspace, model, list(chain), on_refusal=on_refusal),
    )
    emit(_chain_row(setting.view(), as_json), as_json)


def _chain_row(view: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return view if as_json else {**view, "chain": " -> ".join(view["chain"])}


@fallback.command("show")
@workspace_option
@click.argument("model", required=False)
@json_option
@click.pass_context
def fallback_show(ctx: click.Context, workspace: str, model: str | None, as_json: bool) -> None:
    """Show the workspace's fallback chains (only MODEL's when given)."""
    settings = control(ctx, as_json, lambda c: c.resilience.fallbacks(workspace, model))
    rows = [_chain_row(s.view(), as_json) for s in settings]
    emit(rows, as_json, ["model", "chain", "on_refusal", "updated_at"])


@fallback.command("clear")
@workspace_option
@click.argument("model")
@json_option
@click.pass_context
def fallback_clear(ctx: click.Context, workspace: str, model: str, as_json: bool) -> None:
    """Remove MODEL's fallback chain ('*': the chain for every model)."""
    subject = control(ctx, as_json, lambda c: c.resilience.clear_fallback(workspace, model))
    emit({"model": subject, "deleted": True}, as_json)


# --- timeouts -----------------------------------------------------------------------------
@cli.group()
def timeouts() -> None:
    """Upstream time limits per workspace and model (over the server's [upstream] ones)."""


@timeouts.command("set")
@workspace_option
@click.option("--model", default=None, help=_MODEL_HELP)
@click.option("--connect", type=float, default=None, help="Connect timeout, seconds.")
@click.option("--first-byte", type=float, default=None, help="Time to the answer's head.")
@click.option("--idle", type=float, default=None, help="Longest gap between stream chunks.")
@click.option("--total", type=float, default=None, help="The whole upstream exchange.")
@json_option
@click.pass_context
def timeouts_set(
    ctx: click.Context,
    workspace: str,
    model: str | None,
    connect: float | None,
    first_byte: float | None,
    idle: float | None,
    total: float | None,
    as_json: bool,
) -> None:
    """Set the workspace's (or --model's) upstream time limits; unset ones are inherited."""
    values = {"connect": connect, "first_byte": first_byte, "idle": idle, "total": total}
    chosen = {k: v for k, v in values.items() if v is not None}
    setting = control(ctx, as_json, lambda c: c.resilience.set_timeouts(workspace, model, chosen))
    emit(setting.view(), as_json)


_TIMEOUT_COLUMNS = [
    "model",
    "connect_seconds",
    "first_byte_seconds",
    "idle_seconds",
    "total_seconds",
    "updated_at",
]


@timeouts.command("show")
@workspace_option
@json_option
@click.pass_context
def timeouts_show(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """Show the workspace's timeout settings."""
    settings = control(ctx, as_json, lambda c: c.resilience.timeouts(workspace))
    emit([s.view() for s in settings], as_json, _TIMEOUT_COLUMNS)


@timeouts.command("clear")
@workspace_option
@click.option("--model", default=None, help=_MODEL_HELP)
@json_option
@click.pass_context
def timeouts_clear(ctx: click.Context, workspace: str, model: str | None, as_json: bool) -> None:
    """Remove the workspace's (or --model's) timeout setting."""
    subject = control(ctx, as_json, lambda c: c.resilience.clear_timeouts(workspace, model))
    emit({"model": subject, "deleted": True}, as_json)


# --- provider-key weights -----------------------------------------------------------------
@provider_key.command("weight")
@workspace_option
@click.argument("key")
@click.argument("weight", type=int)
@json_option
@click.pass_context
def provider_key_weight(
    ctx: click.Context, workspace: str, key: str, weight: int, as_json: bool
) -> None:
    """Give provider key KEY (id or name) WEIGHT (0-1000, default 1) of its provider's traffic;
    0 makes it a standby, used only when the others are unavailable."""
    row = control(ctx, as_json, lambda c: c.resilience.set_key_weight(workspace, key, weight))
    emit(row, as_json)


# --- health -------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--url",
    default=None,
    help="The running gateway (default: http://<server.host>:<server.port> from the config).",
)
@click.option(
    "--admin-token",
    envvar="KEYROUTE_ADMIN_TOKEN",
    default=None,
    help="Admin token (default: $KEYROUTE_ADMIN_TOKEN).",
)
@json_option
@click.pass_context
def health(ctx: click.Context, url: str | None, admin_token: str | None, as_json: bool) -> None:
    """Circuit breakers and resting keys of a running gateway, per (provider key, model)."""
    try:
        data = _fetch_health(ctx, url, admin_token)
    except GatewayError as err:
        _fail(err, as_json)
        return
    if as_json:
        emit(data, as_json)
        return
    rows = data.get("data", [])
    if not rows:
        click.echo("No upstream has been tried yet: every circuit is closed.")
        return
    emit(
        rows,
        False,
        [
            "provider_key_id",
            "model",
            "state",
            "recent_calls",
            "recent_failures",
            "resting_seconds",
        ],
    )


def _fetch_health(ctx: click.Context, url: str | None, token: str | None) -> dict[str, Any]:
    if not token:
        raise InvalidRequest(
            "keyroute health asks the running gateway: give --admin-token or set "
            "KEYROUTE_ADMIN_TOKEN.",
            param="admin-token",
        )
    if url is None:
        server = _config(ctx).server
        host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host  # noqa: S104
        url = f"http://{host}:{server.port}"
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"--url must be an http(s) URL, not {url!r}.", param="url")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url.rstrip("/") + "/admin/v1/health", headers={"authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            body = answer.read(4 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        raise InvalidRequest(
            f"The gateway at {url} answered {exc.code}: {_error_text(exc)}", param="url"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NoRouteAvailable(f"Cannot reach the gateway at {url}: {reason}.") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise NoRouteAvailable(f"The gateway at {url} did not answer JSON.") from None
    if not isinstance(data, dict):
        raise NoRouteAvailable(f"The gateway at {url} did not answer a JSON object.")
    return data


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(exc.read(16 * 1024))["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return str(exc.reason)
    return str(message)
