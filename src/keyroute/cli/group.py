"""The ``keyroute`` command group and the frame every command runs in.

Every command accepts ``--json`` for machine-readable output; errors print one line on stderr
(a JSON error object with ``--json``) and exit with status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from keyroute.cli.output import emit_json
from keyroute.config.load import load
from keyroute.config.schema import Config
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import GatewayError
from keyroute.services import Services

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
workspace_option = click.option("--workspace", "-w", required=True, help="Workspace name or id.")


def _config(ctx: click.Context) -> Config:
    return load(ctx.obj.get("config_path") if ctx.obj else None)


def _fail(err: GatewayError, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "error": {
                    "message": err.message,
                    "type": err.type,
                    "code": err.code,
                    "param": err.param,
                }
            }
        )
    else:
        click.echo(f"error: {err.message}", err=True)
    sys.exit(1)


def run(ctx: click.Context, as_json: bool, work: Callable[[Services], Awaitable[T]]) -> T:
    """Open services, run ``work``, close; a ``GatewayError`` becomes a clean exit 1."""

    async def main() -> T:
        services = await Services.open(_config(ctx))
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except GatewayError as err:
        _fail(err, as_json)
        raise AssertionError("unreachable") from None


def control(ctx: click.Context, as_json: bool, work: Callable[[ControlPlane], Awaitable[T]]) -> T:
    return run(ctx, as_json, lambda s: work(s.control))


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file (default: $KEYROUTE_CONFIG, then <data dir>/keyroute.toml).",
)
@click.version_option(package_name="keyroute")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """keyroute: a self-hosted BYOK LLM gateway."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
