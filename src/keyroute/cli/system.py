"""Commands that set up and run keyroute: init, serve, migrate, check-config, vault, providers."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import Any

import click
import msgspec
import uvicorn

from keyroute.api.app import create_app
from keyroute.api.connection import uvicorn_options
from keyroute.cli.bootstrap import initialise, quickstart, upgrade_database
from keyroute.cli.group import _config, _fail, cli, json_option, run
from keyroute.cli.output import emit
from keyroute.config.load import export_for_workers
from keyroute.config.schema import Config
from keyroute.control.views import provider_views
from keyroute.core.errors import ConfigError, GatewayError
from keyroute.services import Services


@cli.command()
@json_option
@click.pass_context
def init(ctx: click.Context, as_json: bool) -> None:
    """Create the data directory, master key, schema and the 'default' workspace (idempotent)."""
    try:
        config = _config(ctx)
        result = asyncio.run(initialise(config))
    except GatewayError as err:
        _fail(err, as_json)
        return
    if as_json:
        emit({"created": result.created, **result.details}, True)
        return
    if not result.created:
        click.echo(f"keyroute is already initialised in {result.details['data_dir']}.")
        click.echo("Create another gateway key with: keyroute api-key create --workspace default")
        return
    d = result.details
    base_url = f"http://{config.server.host}:{config.server.port}"
    click.echo(f"""keyroute initialised in {d["data_dir"]}
  database:    {d["database_url"]}
  master key:  {d["master_key"]}  (back it up: without it provider keys cannot be decrypted)
  workspace:   {d["workspace"]} ({d["workspace_id"]}), with the simulated 'demo' provider

  admin token: {d["admin_token"]}
  API key:     {d["api_key"]}
These are shown once. Store them now.

{quickstart(base_url, d["api_key"])}
""")


def _check_port(host: str, port: int) -> None:
    """Fail with one clear line, before anything is printed, when the address is taken."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None


async def _check_ready(config: Config) -> dict[str, object]:
    services = await Services.open(config)
    try:
        return await services.check()
    finally:
        await services.close()


@cli.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 1).")
@json_option
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, as_json: bool
) -> None:
    """Run the gateway."""
    try:
        config = _config(ctx)
        server = config.server.model_copy(
            update={
                k: v
                for k, v in {"host": host, "port": port, "workers": workers}.items()
                if v is not None
            }
        )
        asyncio.run(_check_ready(config))
        _check_port(server.host, server.port)
    except GatewayError as err:
        _fail(err, as_json)
        return
    logging.basicConfig(
        level=config.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the schema check at start-up
    url = f"http://{server.host}:{server.port}"
    if as_json:
        # One compact line, flushed: a supervisor reads it to know the server is coming up.
        line = {"listening": url, "workers": server.workers, "pid": os.getpid()}
        click.echo(msgspec.json.encode(line).decode())
        sys.stdout.flush()
    else:
        plural = "s" if server.workers > 1 else ""
        click.echo(f"keyroute listening on {url} ({server.workers} worker{plural})", err=True)
    if server.workers > 1:
        export_for_workers(ctx.obj.get("config_path"))
        app: Any = "keyroute.api.factory:create_from_env"
    else:
        app = create_app(Services.build(config), freeze_gc=True)
    uvicorn.run(
        app,
        factory=server.workers > 1,
        workers=server.workers if server.workers > 1 else None,
        host=server.host,
        port=server.port,
        access_log=server.access_log,
        log_level=config.logging.level.lower(),
        lifespan="on",
        **uvicorn_options(server),
    )


@cli.command()
@json_option
@click.pass_context
def migrate(ctx: click.Context, as_json: bool) -> None:
    """Create or upgrade the database schema."""

    try:
        resealed = asyncio.run(upgrade_database(_config(ctx)))
    except GatewayError as err:
        _fail(err, as_json)
        return
    emit({"migrated": True, "resealed_provider_keys": resealed}, as_json)


@cli.command("check-config")
@json_option
@click.pass_context
def check_config(ctx: click.Context, as_json: bool) -> None:
    """Validate the configuration, the master key and the database without serving."""
    try:
        config = _config(ctx)
        report = asyncio.run(_check_ready(config))
    except GatewayError as err:
        _fail(err, as_json)
        return
    listen = {
        "listen": f"{config.server.host}:{config.server.port}",
        "workers": config.server.workers,
    }
    emit({**report, **listen}, as_json)


@cli.group()
def vault() -> None:
    """The key vault."""


@vault.command("rotate-master")
@click.option(
    "--new-key-stdin",
    is_flag=True,
    help="With KEYROUTE_MASTER_KEY: read the new master key from stdin.",
)
@json_option
@click.pass_context
def rotate_master(ctx: click.Context, new_key_stdin: bool, as_json: bool) -> None:
    """Re-wrap every workspace data key under a new master key, online."""
    new_key: bytes | None = None
    if new_key_stdin:
        from keyroute.vault.masterkey import parse_master_key

        try:
            new_key = parse_master_key(sys.stdin.read().strip())
        except GatewayError as err:
            _fail(err, as_json)

    async def work(s: Services) -> dict[str, object]:
        if s.config.master_key is not None and new_key is None:
            raise ConfigError(
                "The master key comes from KEYROUTE_MASTER_KEY: pass the new key with "
                "--new-key-stdin, then update KEYROUTE_MASTER_KEY and restart."
            )
        result = await s.vault.rotate_master(new_key)
        out: dict[str, object] = {
            "rewrapped": result.rewrapped,
            "old_key_id": result.old_id,
            "new_key_id": result.new_id,
        }
        if new_key is not None:
            out["next_step"] = "set KEYROUTE_MASTER_KEY to the new key and restart keyroute"
        return out

    emit(run(ctx, as_json, work), as_json)


@cli.command()
@json_option
def providers(as_json: bool) -> None:
    """List the providers keyroute speaks to."""
    rows = provider_views()
    emit(rows, as_json, ["id", "label", "wire_format", "default_base_url", "requires_key"])
