"""Commands over the model catalogue (``keyroute models``) and workspace prices
(``keyroute prices``). ``models`` reads the shipped catalogue only: it needs no database."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from keyroute.catalogue import builtin
from keyroute.catalogue.entries import TOKEN_CLASSES, ModelEntry
from keyroute.cli.group import _fail, cli, control, json_option, workspace_option
from keyroute.cli.output import emit, emit_json, emit_table
from keyroute.control.views import model_view, price_override_view
from keyroute.core.errors import InvalidRequest, NotFound


def _today() -> Any:
    return datetime.now(UTC).date()


def _price(entry: ModelEntry, name: str) -> str:
    sheet = entry.sheet_at(_today())
    value: Decimal | None = None if sheet is None else getattr(sheet, name)
    return "" if value is None else format(value, "f")


# --- models -------------------------------------------------------------------------------
@cli.group()
def models() -> None:
    """The model catalogue: context windows, capabilities and list prices."""


@models.command("list")
@click.option("--provider", default=None, help="Only this provider's models.")
@json_option
def models_list(provider: str | None, as_json: bool) -> None:
    """List catalogue models with their list prices (USD per million tokens)."""
    entries = [m for m in builtin().models if provider is None or m.provider == provider]
    if as_json:
        emit_json({"data": [model_view(m, _today()) for m in entries]})
        return
    rows = [
        {
            "model": m.ref,
            "context": m.context_window,
            "max_output": m.max_output_tokens,
            "input": _price(m, "input"),
            "cached_input": _price(m, "cached_input"),
            "output": _price(m, "output"),
        }
        for m in entries
    ]
    emit_table(rows, ["model", "context", "max_output", "input", "cached_input", "output"])


@models.command("show")
@click.argument("model")
@json_option
def models_show(model: str, as_json: bool) -> None:
    """Show MODEL (provider/model, or an id the catalogue knows): limits, capabilities, prices."""
    entry = builtin().find(model)
    if entry is None:
        _fail(NotFound(f"The catalogue has no model '{model}'.", param="model"), as_json)
        return
    view = model_view(entry, _today())
    if as_json:
        emit_json(view)
        return
    caps = [name for name, on in view["capabilities"].items() if on is True]
    sheet = entry.sheet_at(_today())
    emit(
        {
            "model": entry.ref,
            "family": entry.family,
            "aliases": ", ".join(entry.aliases),
            "context_window": entry.context_window,
            "max_output_tokens": entry.max_output_tokens,
            "capabilities": ", ".join(caps),
            "min_cacheable_tokens": entry.capabilities.min_cacheable_tokens,
            **{f"{n} (USD/M)": _price(entry, n) for n in TOKEN_CLASSES if _price(entry, n)},
            "long_context_tiers": ", ".join(
                f">{t.above_input_tokens}: input {t.input}, output {t.output}"
                for t in (sheet.tiers if sheet else ())
            ),
            "source": sheet.source if sheet else "no known price",
            "effective_date": sheet.effective_date.isoformat() if sheet else None,
        },
        False,
    )


# --- prices -------------------------------------------------------------------------------
@cli.group()
def prices() -> None:
    """A workspace's negotiated discounts and price overrides."""


def _price_option(name: str) -> Any:
    flag = "--" + name.replace("_", "-")
    return click.option(flag, name, default=None, help=f"{name} price, USD per million tokens.")


def _price_options(f: Any) -> Any:
    for name in reversed(TOKEN_CLASSES):
        f = _price_option(name)(f)
    return f


@prices.command("set")
@workspace_option
@click.option("--provider", default=None, help="A provider: the discount covers its models.")
@click.option("--model", default=None, help="A model (provider/model or a catalogue id).")
@click.option("--discount", default=None, help="Percent off list price, 0 to 100.")
@_price_options
@json_option
@click.pass_context
def prices_set(
    ctx: click.Context,
    /,
    workspace: str,
    provider: str | None,
    model: str | None,
    discount: str | None,
    as_json: bool,
    **given: str | None,
) -> None:
    """Set a discount (provider or model) and/or prices (model) for a workspace.

    Fields not given keep their current value; prices are USD per million tokens.
    """
    if provider is not None and model is not None:
        _fail(InvalidRequest("Give --provider or --model, not both.", param="model"), as_json)
    chosen = {k: v for k, v in given.items() if v is not None}
    record = control(
        ctx,
        as_json,
        lambda c: c.set_prices(
            workspace, provider=provider, model=model, discount=discount, prices=chosen
        ),
    )
    emit(price_override_view(record), as_json)


@prices.command("list")
@workspace_option
@json_option
@click.pass_context
def prices_list(ctx: click.Context, workspace: str, as_json: bool) -> None:
    """List a workspace's price overrides and discounts."""
    records = control(ctx, as_json, lambda c: c.list_prices(workspace))
    if as_json:
        emit_json({"data": [price_override_view(r) for r in records]})
        return
    rows = [
        {
            "provider": r.provider,
            "model": r.model or "(all)",
            "discount_percent": r.discount_percent,
            "prices": ", ".join(f"{k}={v}" for k, v in (r.prices or {}).items()),
            "updated_at": r.updated_at.isoformat(),
        }
        for r in records
    ]
    emit_table(rows, ["provider", "model", "discount_percent", "prices", "updated_at"])


@prices.command("clear")
@workspace_option
@click.option("--provider", default=None, help="The provider whose override to remove.")
@click.option("--model", default=None, help="The model whose override to remove.")
@json_option
@click.pass_context
def prices_clear(
    ctx: click.Context, workspace: str, provider: str | None, model: str | None, as_json: bool
) -> None:
    """Remove the override of a provider or model (back to list price)."""
    found = control(
        ctx, as_json, lambda c: c.clear_prices(workspace, provider=provider, model=model)
    )
    emit({"provider": found[0], "model": found[1] or None, "deleted": True}, as_json)


@prices.command("import")
@workspace_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["toml", "json", "csv"]),
    default=None,
    help="File format (default: from the file's extension).",
)
@click.option("--replace", is_flag=True, help="Remove the workspace's other overrides first.")
@json_option
@click.pass_context
def prices_import(
    ctx: click.Context, workspace: str, file: str, fmt: str | None, replace: bool, as_json: bool
) -> None:
    """Apply every override in FILE (TOML, JSON or CSV; see docs/reference.md), all or none."""
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            _fail(InvalidRequest(f"Cannot read {file}: {err}", param="file"), as_json)
            return
    chosen = fmt or Path(file).suffix.lstrip(".").lower()
    records = control(
        ctx, as_json, lambda c: c.import_prices(workspace, text, chosen, replace=replace)
    )
    if as_json:
        emit_json({"data": [price_override_view(r) for r in records]})
    else:
        click.echo(f"{len(records)} override(s) applied.")
