"""``keyroute caching``: a workspace's prompt-cache and response-cache settings."""

from __future__ import annotations

import click

from keyroute.cli.group import cli, control, json_option, workspace_option
from keyroute.cli.output import emit
from keyroute.control.caching import MAX_RESPONSE_TTL_SECONDS, caching_view
from keyroute.control.plane import ControlPlane
from keyroute.storage.base import CachingSettingsRecord, WorkspaceRecord

_ON_OFF = click.Choice(["on", "off"])


@cli.group()
def caching() -> None:
    """Prompt caching (automatic provider cache markers) and the exact response cache."""


@caching.command("show")
@workspace_option
@json_option
@click.pass_context
def caching_show(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """Show a workspace's caching settings."""

    async def work(c: ControlPlane) -> tuple[WorkspaceRecord, CachingSettingsRecord]:
        return await c.caching.show(workspace)

    emit(caching_view(*control(ctx, as_json, work)), as_json)


@caching.command("set")
@workspace_option
@click.option(
    "--prompt-cache",
    type=click.Choice(["auto", "off"]),
    default=None,
    help="auto (default): keyroute places provider cache markers; off: only the client's own.",
)
@click.option(
    "--prompt-cache-ttl",
    type=click.Choice(["5m", "1h"]),
    default=None,
    help="Lifetime of the Anthropic breakpoints and Gemini explicit caches keyroute makes "
    "(default 5m).",
)
@click.option(
    "--response-cache",
    type=_ON_OFF,
    default=None,
    help="Answer identical deterministic requests from keyroute's cache (default off).",
)
@click.option(
    "--response-cache-ttl",
    type=click.IntRange(1, MAX_RESPONSE_TTL_SECONDS),
    default=None,
    help="Seconds a cached answer is served (default 300).",
)
@click.option(
    "--response-cache-nondeterministic",
    type=_ON_OFF,
    default=None,
    help="Also cache requests sampled with temperature above 0 and no seed (default off).",
)
@click.option(
    "--gemini-explicit",
    type=_ON_OFF,
    default=None,
    help="Create Gemini explicit context caches for large prefixes reused often enough to pay "
    "for their storage (default off).",
)
@json_option
@click.pass_context
def caching_set(
    ctx: click.Context,
    workspace: str,
    prompt_cache: str | None,
    prompt_cache_ttl: str | None,
    response_cache: str | None,
    response_cache_ttl: int | None,
    response_cache_nondeterministic: str | None,
    gemini_explicit: str | None,
    as_json: bool,
) -> None:
    """Change a workspace's caching settings; options left out keep their value."""
    changes: dict[str, object] = {}
    if prompt_cache is not None:
        changes["prompt_cache"] = prompt_cache
    if prompt_cache_ttl is not None:
        changes["prompt_cache_ttl"] = prompt_cache_ttl
    if response_cache is not None:
        changes["response_cache"] = response_cache == "on"
    if response_cache_ttl is not None:
        changes["response_cache_ttl_seconds"] = response_cache_ttl
    if response_cache_nondeterministic is not None:
        changes["response_cache_nondeterministic"] = response_cache_nondeterministic == "on"
    if gemini_explicit is not None:
        changes["gemini_explicit"] = gemini_explicit == "on"
    if not changes:
        raise click.UsageError("give at least one setting to change (see --help)")

    async def work(c: ControlPlane) -> tuple[WorkspaceRecord, CachingSettingsRecord]:
        return await c.caching.update(workspace, changes)

    emit(caching_view(*control(ctx, as_json, work)), as_json)
